// The Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "rdns/metrics/registry.h"

namespace rdns::metrics {
namespace {

/// `{a="x",b="y"}` from the family's label names and one series' values, plus an optional
/// extra label (a histogram's le); empty when there is no label at all.
std::string label_set(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      std::string_view extra_name = {}, std::string_view extra_value = {}) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += fmt::format("{}{}=\"{}\"", out.empty() ? "{" : ",", names[i],
                       escape_label_value(values[i]));
  }
  if (!extra_name.empty()) {
    out += fmt::format("{}{}=\"{}\"", out.empty() ? "{" : ",", extra_name, extra_value);
  }
  if (!out.empty()) out += '}';
  return out;
}

void write_histogram(std::string& out, const Family<Histogram>& family) {
  family.for_each([&](const std::vector<std::string>& values, const Histogram& histogram) {
    const auto snapshot = histogram.snapshot();
    for (std::size_t i = 0; i < snapshot.cumulative.size(); ++i) {
      const auto le = i < snapshot.upper_bounds.size() ? format_value(snapshot.upper_bounds[i])
                                                       : std::string("+Inf");
      out += fmt::format("{}_bucket{} {}\n", family.name(),
                         label_set(family.label_names(), values, "le", le), snapshot.cumulative[i]);
    }
    const auto labels = label_set(family.label_names(), values);
    out += fmt::format("{}_sum{} {}\n", family.name(), labels, format_value(snapshot.sum));
    out += fmt::format("{}_count{} {}\n", family.name(), labels, snapshot.count);
  });
}

void write_family(std::string& out, const FamilyBase& family) {
  out += fmt::format("# HELP {} {}\n", family.name(), escape_help(family.help()));
  out += fmt::format("# TYPE {} {}\n", family.name(), to_string(family.type()));
  const auto& names = family.label_names();
  switch (family.type()) {
    case Type::counter:
      static_cast<const Family<Counter>&>(family).for_each(
          [&](const std::vector<std::string>& values, const Counter& counter) {
            out +=
                fmt::format("{}{} {}\n", family.name(), label_set(names, values), counter.value());
          });
      break;
    case Type::gauge:
      static_cast<const Family<Gauge>&>(family).for_each(
          [&](const std::vector<std::string>& values, const Gauge& gauge) {
            out += fmt::format("{}{} {}\n", family.name(), label_set(names, values), gauge.value());
          });
      break;
    case Type::histogram:
      write_histogram(out, static_cast<const Family<Histogram>&>(family));
      break;
  }
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

std::string write_text(const Registry& registry) {
  std::string out;
  registry.for_each([&out](const FamilyBase& family) { write_family(out, family); });
  return out;
}

}  // namespace rdns::metrics
