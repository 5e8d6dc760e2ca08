#pragma once
/// Prometheus-style metrics: counters, gauges and histograms with labels, and the registry that
/// owns them. Pure (no I/O, no network library): the exposition writer renders a registry as
/// text and the HTTP server serves that text.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rdns::metrics {

/// A monotonically increasing count. Lock-free.
class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<std::uint64_t> value_{0};
};

/// A value that goes up and down. Lock-free.
class Gauge {
 public:
  void add(std::int64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  void sub(std::int64_t n = 1) noexcept { value_.fetch_sub(n, std::memory_order_relaxed); }
  void set(std::int64_t n) noexcept { value_.store(n, std::memory_order_relaxed); }
  [[nodiscard]] std::int64_t value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<std::int64_t> value_{0};
};

/// Observations counted into buckets with fixed upper bounds (inclusive, as Prometheus' `le`).
/// observe() is lock-free: one atomic add for the bucket, one for the sum.
class Histogram {
 public:
  /// `upper_bounds` must be finite and strictly increasing (std::invalid_argument otherwise);
  /// the +Inf bucket is implicit.
  explicit Histogram(std::vector<double> upper_bounds);

  void observe(double value) noexcept;

  /// A consistent view for the writer: cumulative counts per bound, then +Inf (== count).
  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<std::uint64_t> cumulative;  ///< one per bound, then one for +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  [[nodiscard]] Snapshot snapshot() const;

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bucket (not cumulative), +Inf last
  std::atomic<double> sum_{0};
};

enum class Type : std::uint8_t { counter, gauge, histogram };

[[nodiscard]] std::string_view to_string(Type type);

/// What every family has, whatever its metric type.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names, Type type);
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;
  FamilyBase(FamilyBase&&) = delete;
  FamilyBase& operator=(FamilyBase&&) = delete;
  virtual ~FamilyBase() = default;

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::string& help() const { return help_; }
  [[nodiscard]] const std::vector<std::string>& label_names() const { return label_names_; }
  [[nodiscard]] Type type() const { return type_; }

 protected:
  /// Throws std::invalid_argument unless `values` has one value per label name.
  void check_arity(std::span<const std::string> values) const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  Type type_;
};

/// All series of one metric name, one per combination of label values. A series is created on
/// first use, under the family's mutex; the reference it returns stays valid for the family's
/// lifetime, so hot paths look a series up once (or create them all up front) and then only
/// touch its atomics.
template <typename Metric>
class Family final : public FamilyBase {
 public:
  /// `args` are passed to each new Metric (a Histogram's bounds).
  template <typename... Args>
  Family(std::string name, std::string help, std::vector<std::string> label_names, Type type,
         Args... args)
      : FamilyBase(std::move(name), std::move(help), std::move(label_names), type),
        make_([args...] { return std::make_unique<Metric>(args...); }) {}

  /// The series for these label values (in label-name order), created if new.
  Metric& with(const std::vector<std::string>& values) {
    check_arity(values);
    const std::lock_guard lock(mutex_);
    const auto found = index_.find(values);
    if (found != index_.end()) return *series_[found->second].second;
    index_.emplace(values, series_.size());
    series_.emplace_back(values, make_());
    return *series_.back().second;
  }

  /// Calls `visit(label_values, metric)` for every series, in creation order.
  template <typename Visit>
  void for_each(Visit&& visit) const {
    const std::lock_guard lock(mutex_);
    for (const auto& [values, metric] : series_) visit(values, *metric);
  }

 private:
  std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mutex_;
  std::deque<std::pair<std::vector<std::string>, std::unique_ptr<Metric>>> series_;
  std::map<std::vector<std::string>, std::size_t> index_;
};

/// Owns metric families in registration order (the order of the exposition).
class Registry {
 public:
  /// Each throws std::invalid_argument for an invalid or already registered name, an invalid
  /// label name, or (histogram) a label named `le` or bad bounds.
  Family<Counter>& counter(std::string name, std::string help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(std::string name, std::string help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(std::string name, std::string help,
                               std::vector<std::string> label_names,
                               std::vector<double> upper_bounds);

  /// Calls `visit(family)` for every family, in registration order.
  template <typename Visit>
  void for_each(Visit&& visit) const {
    const std::lock_guard lock(mutex_);
    for (const auto& family : families_) visit(*family);
  }

 private:
  void check_new(const std::string& name, const std::vector<std::string>& label_names) const;

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
};

/// The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` lines, then
/// one line per series (histograms: _bucket{le=...} cumulative up to +Inf, _sum, _count).
[[nodiscard]] std::string write_text(const Registry& registry);

/// The Content-Type of write_text()'s output.
inline constexpr const char* text_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// A label value escaped for the text format: backslash, double quote and line feed.
[[nodiscard]] std::string escape_label_value(std::string_view value);

/// A HELP text escaped for the text format: backslash and line feed.
[[nodiscard]] std::string escape_help(std::string_view help);

/// A sample value as the text format writes it: shortest round-trip form, +Inf, -Inf, NaN.
[[nodiscard]] std::string format_value(double value);

}  // namespace rdns::metrics
