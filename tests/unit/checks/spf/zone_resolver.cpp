#include "zone_resolver.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "rdns/dns/ip_address.h"

namespace rdns::spftest {

using dns::Answer;
using dns::Outcome;
using dns::RrType;

std::string ZoneResolver::key(std::string_view name) {
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '\\' && i + 3 < name.size() && name[i + 1] >= '0' && name[i + 1] <= '9') {
      c = static_cast<char>((name[i + 1] - '0') * 100 + (name[i + 2] - '0') * 10 +
                            (name[i + 3] - '0'));
      i += 3;
    } else if (c == '\\' && i + 1 < name.size()) {
      c = name[++i];
    }
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  if (out.size() > 1 && out.back() == '.') {
    out.pop_back();
  }
  return out;
}

void ZoneResolver::add(std::string_view name, Entry entry) {
  const std::lock_guard lock(mutex_);
  zone_[key(name)].push_back(std::move(entry));
}

void ZoneResolver::add_record(std::string_view name, RrType type, std::string text,
                              std::uint16_t preference) {
  Entry entry;
  entry.type = type;
  entry.text = std::move(text);
  entry.preference = preference;
  add(name, std::move(entry));
}

void ZoneResolver::a(std::string_view name, std::string_view address) {
  add_record(name, RrType::a, std::string(address));
}
void ZoneResolver::aaaa(std::string_view name, std::string_view address) {
  add_record(name, RrType::aaaa, std::string(address));
}
void ZoneResolver::ptr(std::string_view name, std::string_view target) {
  add_record(name, RrType::ptr, std::string(target));
}
void ZoneResolver::mx(std::string_view name, std::uint16_t preference, std::string_view exchange) {
  add_record(name, RrType::mx, std::string(exchange), preference);
}
void ZoneResolver::txt_strings(std::string_view name, const std::vector<std::string>& strings) {
  std::string joined;
  for (const auto& s : strings) joined += s;
  add_record(name, RrType::txt, std::move(joined));
}
void ZoneResolver::txt(std::string_view name, std::string_view text) {
  add_record(name, RrType::txt, std::string(text));
}
void ZoneResolver::cname(std::string_view name, std::string_view target) {
  add_record(name, RrType::cname, std::string(target));
}
void ZoneResolver::timeout(std::string_view name) {
  Entry entry;
  entry.kind = Entry::Kind::timeout;
  add(name, std::move(entry));
}
void ZoneResolver::touch(std::string_view name) {
  const std::lock_guard lock(mutex_);
  zone_[key(name)];
}
void ZoneResolver::fail(std::string_view name, RrType type, Outcome outcome) {
  Entry entry;
  entry.kind = Entry::Kind::failure;
  entry.type = type;
  entry.outcome = outcome;
  add(name, std::move(entry));
}

Answer ZoneResolver::lookup(const std::string& name, RrType type) const {
  Answer answer;
  answer.name = name;
  answer.type = type;
  std::string current = name;
  for (int hop = 0; hop <= 10; ++hop) {
    const auto found = zone_.find(current);
    if (found == zone_.end()) {
      answer.outcome = Outcome::nxdomain;  // also at the end of a dangling CNAME
      return answer;
    }
    bool seen_type = false;
    std::string cname;
    for (const auto& entry : found->second) {
      if (entry.kind == Entry::Kind::timeout) {
        if (!seen_type) {
          answer.outcome = Outcome::timeout;
          answer.error = "test zone: TIMEOUT";
          return answer;
        }
        break;
      }
      if (entry.kind == Entry::Kind::failure) {
        if (entry.type == type) {
          answer.outcome = entry.outcome;
          answer.error = "test zone: failure";
          if (entry.outcome == Outcome::bogus) {
            answer.security = dns::Security::bogus;
            answer.why_bogus = "test zone: bogus";
          }
          return answer;
        }
        continue;
      }
      if (entry.type == RrType::cname && type != RrType::cname) {
        cname = key(entry.text);
        continue;
      }
      if (entry.type != type) continue;
      seen_type = true;
      switch (type) {
        case RrType::a:
        case RrType::aaaa: {
          const auto address = dns::IpAddress::parse(entry.text);
          if (!address) {
            std::fprintf(stderr, "test zone: bad address %s\n", entry.text.c_str());
            std::abort();
          }
          answer.addresses.push_back(*address);
          break;
        }
        case RrType::mx:
          answer.mx.push_back({entry.preference, key(entry.text.empty() ? "." : entry.text)});
          break;
        case RrType::txt:
        case RrType::spf: answer.texts.push_back(entry.text); break;
        default: answer.names.push_back(key(entry.text)); break;
      }
    }
    if (seen_type) {
      answer.outcome = Outcome::ok;
      answer.ttl = 3600;
      return answer;
    }
    if (cname.empty()) {
      answer.outcome = Outcome::nodata;
      return answer;
    }
    for (const auto& previous : answer.cname_chain) {
      if (previous == cname) {
        answer.outcome = Outcome::servfail;
        answer.error = "test zone: CNAME loop";
        return answer;
      }
    }
    if (cname == name) {
      answer.outcome = Outcome::servfail;
      answer.error = "test zone: CNAME loop";
      return answer;
    }
    answer.cname_chain.push_back(cname);
    current = cname;
  }
  answer.outcome = Outcome::servfail;
  answer.error = "test zone: CNAME chain too long";
  return answer;
}

void ZoneResolver::resolve_async(const std::string& name, RrType type,
                                 dns::QueryOptions /*options*/, Callback done) {
  Answer answer;
  {
    const std::lock_guard lock(mutex_);
    asked_.push_back({name, type});
    answer = lookup(key(name), type);
  }
  done(std::move(answer));
}

std::vector<Asked> ZoneResolver::asked() const {
  const std::lock_guard lock(mutex_);
  return asked_;
}

void ZoneResolver::clear_asked() {
  const std::lock_guard lock(mutex_);
  asked_.clear();
}

}  // namespace rdns::spftest
