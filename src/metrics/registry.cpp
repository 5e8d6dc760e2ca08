#include "rdns/metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace rdns::metrics {
namespace {

bool name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool name_char(char c) {
  return name_start(c) || (c >= '0' && c <= '9');
}

/// Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names the same without ':' and not "__...".
bool valid_name(std::string_view name, bool colon) {
  if (name.empty()) return false;
  const auto ok_start = [colon](char c) { return name_start(c) || (colon && c == ':'); };
  const auto ok = [colon](char c) { return name_char(c) || (colon && c == ':'); };
  return ok_start(name.front()) && std::all_of(name.begin() + 1, name.end(), ok);
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(upper_bounds_.size() + 1)) {
  for (std::size_t i = 0; i < upper_bounds_.size(); ++i) {
    if (!std::isfinite(upper_bounds_[i]) || (i > 0 && upper_bounds_[i] <= upper_bounds_[i - 1])) {
      throw std::invalid_argument("histogram bounds must be finite and strictly increasing");
    }
  }
}

void Histogram::observe(double value) noexcept {
  // Note: `le` is inclusive: a value equal to a bound belongs to that bound's bucket.
  const auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  const auto index = static_cast<std::size_t>(it - upper_bounds_.begin());
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  snapshot.upper_bounds = upper_bounds_;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(running);
  }
  // Note: the count is the +Inf bucket, so the two always agree even while observe() runs;
  // the sum may be an observation ahead or behind.
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

std::string_view to_string(Type type) {
  switch (type) {
    case Type::counter: return "counter";
    case Type::gauge: return "gauge";
    case Type::histogram: return "histogram";
  }
  return "untyped";
}

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
                       Type type)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      type_(type) {}

void FamilyBase::check_arity(std::span<const std::string> values) const {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument(fmt::format("metric {}: {} label values for {} labels", name_,
                                            values.size(), label_names_.size()));
  }
}

void Registry::check_new(const std::string& name,
                         const std::vector<std::string>& label_names) const {
  if (!valid_name(name, true)) {
    throw std::invalid_argument(fmt::format("invalid metric name '{}'", name));
  }
  for (const auto& label : label_names) {
    if (!valid_name(label, false) || label.starts_with("__")) {
      throw std::invalid_argument(fmt::format("metric {}: invalid label name '{}'", name, label));
    }
  }
  const auto same = [&name](const auto& family) { return family->name() == name; };
  if (std::any_of(families_.begin(), families_.end(), same)) {
    throw std::invalid_argument(fmt::format("metric {} registered twice", name));
  }
}

Family<Counter>& Registry::counter(std::string name, std::string help,
                                   std::vector<std::string> label_names) {
  const std::lock_guard lock(mutex_);
  check_new(name, label_names);
  auto family = std::make_unique<Family<Counter>>(std::move(name), std::move(help),
                                                  std::move(label_names), Type::counter);
  auto& ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

Family<Gauge>& Registry::gauge(std::string name, std::string help,
                               std::vector<std::string> label_names) {
  const std::lock_guard lock(mutex_);
  check_new(name, label_names);
  auto family = std::make_unique<Family<Gauge>>(std::move(name), std::move(help),
                                                std::move(label_names), Type::gauge);
  auto& ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

Family<Histogram>& Registry::histogram(std::string name, std::string help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> upper_bounds) {
  const std::lock_guard lock(mutex_);
  check_new(name, label_names);
  if (std::find(label_names.begin(), label_names.end(), "le") != label_names.end()) {
    throw std::invalid_argument(fmt::format("histogram {}: 'le' is reserved", name));
  }
  const Histogram probe(upper_bounds);  // throws for bad bounds now, not at first use
  auto family =
      std::make_unique<Family<Histogram>>(std::move(name), std::move(help), std::move(label_names),
                                          Type::histogram, std::move(upper_bounds));
  auto& ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

}  // namespace rdns::metrics
