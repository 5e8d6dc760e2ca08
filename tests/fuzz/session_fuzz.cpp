// libFuzzer target: one SMTP connection through a Session, the way the milter adapter drives it,
// with hostile HELO, MAIL FROM, RCPT, header values and hostile DNS data (PTR names, TXT/SPF
// records) from the input. The header fields it adds must be printable ASCII, folded only with
// "\n\t"; nothing may crash.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "rdns/config/config.h"
#include "rdns/dns/resolver.h"
#include "rdns/session/session.h"

namespace {

using rdns::fuzz::require;

/// Answers at once: PTR and TXT with the input's data, A/AAAA with the client, the rest NXDOMAIN.
class HostileResolver final : public rdns::dns::Resolver {
 public:
  HostileResolver(rdns::dns::IpAddress client, std::vector<std::string> ptr_names,
                  std::vector<std::string> texts)
      : client_(client), ptr_names_(std::move(ptr_names)), texts_(std::move(texts)) {}

  void resolve_async(const std::string& name, rdns::dns::RrType type,
                     rdns::dns::QueryOptions /*options*/, Callback done) override {
    rdns::dns::Answer answer;
    answer.name = name;
    answer.type = type;
    answer.ttl = 300;
    answer.outcome = rdns::dns::Outcome::ok;
    switch (type) {
      case rdns::dns::RrType::ptr: answer.names = ptr_names_; break;
      case rdns::dns::RrType::txt: answer.texts = texts_; break;
      case rdns::dns::RrType::a:
      case rdns::dns::RrType::aaaa: answer.addresses = {client_}; break;
      default: break;
    }
    if (answer.names.empty() && answer.texts.empty() && answer.addresses.empty()) {
      answer.outcome = rdns::dns::Outcome::nxdomain;
    }
    done(std::move(answer));
  }

 private:
  rdns::dns::IpAddress client_;
  std::vector<std::string> ptr_names_;
  std::vector<std::string> texts_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  const auto client = input.ConsumeBool() ? *rdns::dns::IpAddress::parse("192.0.2.7")
                                          : *rdns::dns::IpAddress::parse("2001:db8::7");
  std::vector<std::string> ptr_names;
  for (int i = input.ConsumeIntegralInRange(0, 3); i > 0; --i) {
    ptr_names.push_back(input.ConsumeRandomLengthString(300));
  }
  std::vector<std::string> texts{input.ConsumeRandomLengthString(600)};
  static const auto config = [] {
    auto c = rdns::config::defaults();
    c.policy.exemptions.trusted_networks.clear();
    return std::make_shared<const rdns::config::Config>(std::move(c));
  }();
  rdns::session::Runtime runtime{
      config, std::make_shared<HostileResolver>(client, std::move(ptr_names), std::move(texts)),
      nullptr};
  rdns::session::Session session(runtime, [](int, const std::string&) {});
  const auto hostname = input.ConsumeRandomLengthString(300);
  const auto mta = input.ConsumeRandomLengthString(100);
  (void)session.connect(hostname, client, mta);
  (void)session.helo(input.ConsumeRandomLengthString(1000));
  (void)session.mail(input.ConsumeRandomLengthString(1000), input.ConsumeRandomLengthString(50),
                     "4ABC");
  (void)session.rcpt(input.ConsumeRandomLengthString(300), "4ABC");
  while (input.remaining_bytes() > 0) {
    const auto name = input.ConsumeRandomLengthString(40);
    session.header(name, input.ConsumeRandomLengthString(2000));
  }
  const auto edits = session.end_of_message("4ABC");
  for (const auto& [name, body] : edits.insert) {
    require(name == "Authentication-Results" || name == "Received-SPF");
    rdns::fuzz::require_header_safe(body);
  }
  for (std::size_t i = 1; i < edits.delete_auth_results.size(); ++i) {
    require(edits.delete_auth_results[i - 1] > edits.delete_auth_results[i]);
  }
  return 0;
}
