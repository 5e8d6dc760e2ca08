// The metrics registry and the Prometheus text exposition writer, byte for byte.
#include "rdns/metrics/registry.h"

#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#include "rdns/metrics/endpoint.h"

namespace rdns::metrics {
namespace {

TEST(MetricsRegistry, WritesASmallRegistryExactly) {
  Registry registry;
  auto& requests = registry.counter("app_requests_total", "Requests served.", {"method", "code"});
  requests.with({"get", "200"}).inc(3);
  requests.with({"post", "500"}).inc();
  registry.gauge("app_open", "Connections open now.").with({}).set(-2);
  auto& latency = registry.histogram("app_seconds", "Latency.", {}, {0.25, 1});
  auto& h = latency.with({});
  h.observe(0.125);
  h.observe(0.25);  // le is inclusive: counted in the 0.25 bucket
  h.observe(0.5);
  h.observe(7);
  EXPECT_EQ(write_text(registry),
            "# HELP app_requests_total Requests served.\n"
            "# TYPE app_requests_total counter\n"
            "app_requests_total{method=\"get\",code=\"200\"} 3\n"
            "app_requests_total{method=\"post\",code=\"500\"} 1\n"
            "# HELP app_open Connections open now.\n"
            "# TYPE app_open gauge\n"
            "app_open -2\n"
            "# HELP app_seconds Latency.\n"
            "# TYPE app_seconds histogram\n"
            "app_seconds_bucket{le=\"0.25\"} 2\n"
            "app_seconds_bucket{le=\"1\"} 3\n"
            "app_seconds_bucket{le=\"+Inf\"} 4\n"
            "app_seconds_sum 7.875\n"
            "app_seconds_count 4\n");
}

TEST(MetricsRegistry, HistogramWithLabelsPutsLeLast) {
  Registry registry;
  auto& family = registry.histogram("q_seconds", "Q.", {"type"}, {0.5});
  family.with({"A"}).observe(1);
  EXPECT_EQ(write_text(registry),
            "# HELP q_seconds Q.\n"
            "# TYPE q_seconds histogram\n"
            "q_seconds_bucket{type=\"A\",le=\"0.5\"} 0\n"
            "q_seconds_bucket{type=\"A\",le=\"+Inf\"} 1\n"
            "q_seconds_sum{type=\"A\"} 1\n"
            "q_seconds_count{type=\"A\"} 1\n");
}

TEST(MetricsRegistry, EmptyHistogramHasZeroBucketsSumAndCount) {
  const Histogram h({0.001, 0.01});
  const auto s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{0, 0, 0}));
  EXPECT_EQ(s.count, 0U);
  EXPECT_EQ(s.sum, 0.0);
}

TEST(MetricsRegistry, HistogramBucketsAreCumulative) {
  Histogram h({1, 2, 3});
  for (const double v : {0.5, 1.5, 1.7, 2.0, 2.5, 9.0, -1.0}) h.observe(v);
  const auto s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{2, 5, 6, 7}));
  EXPECT_EQ(s.count, 7U);
  EXPECT_DOUBLE_EQ(s.sum, 16.2);
}

TEST(MetricsRegistry, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(escape_label_value("plain ünïcode"), "plain ünïcode");
  EXPECT_EQ(escape_help("one \\ two\n\"three\""), "one \\\\ two\\n\"three\"");
  Registry registry;
  registry.counter("x_total", "Line one\nline two \\.", {"v"}).with({"say \"hi\"\n"}).inc();
  EXPECT_EQ(write_text(registry),
            "# HELP x_total Line one\\nline two \\\\.\n"
            "# TYPE x_total counter\n"
            "x_total{v=\"say \\\"hi\\\"\\n\"} 1\n");
}

TEST(MetricsRegistry, FormatsValues) {
  EXPECT_EQ(format_value(0.005), "0.005");
  EXPECT_EQ(format_value(1), "1");
  EXPECT_EQ(format_value(2.5), "2.5");
  EXPECT_EQ(format_value(60), "60");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(MetricsRegistry, SameLabelValuesGiveTheSameSeries) {
  Registry registry;
  auto& family = registry.counter("c_total", "C.", {"k"});
  auto& first = family.with({"a"});
  EXPECT_EQ(&family.with({"a"}), &first);
  EXPECT_NE(&family.with({"b"}), &first);
  family.with({"a"}).inc(2);
  EXPECT_EQ(first.value(), 2U);
}

TEST(MetricsRegistry, RefusesBadNamesLabelsAndBounds) {
  Registry registry;
  registry.counter("ok_total", "x");
  EXPECT_THROW(registry.counter("ok_total", "again"), std::invalid_argument);
  EXPECT_THROW(registry.counter("9lives", "x"), std::invalid_argument);
  EXPECT_THROW(registry.counter("has-dash", "x"), std::invalid_argument);
  EXPECT_THROW(registry.counter("", "x"), std::invalid_argument);
  EXPECT_NO_THROW(registry.counter("ns:sub_total", "colons are allowed in metric names"));
  EXPECT_THROW(registry.counter("l1_total", "x", {"bad:label"}), std::invalid_argument);
  EXPECT_THROW(registry.counter("l2_total", "x", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h1", "x", {"le"}, {1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h2", "x", {}, {2, 1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h3", "x", {}, {1, 1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h4", "x", {}, {std::numeric_limits<double>::infinity()}),
               std::invalid_argument);
  auto& family = registry.counter("arity_total", "x", {"a", "b"});
  EXPECT_THROW(family.with({"only one"}), std::invalid_argument);
}

TEST(MetricsRegistry, CountsEveryIncrementFromManyThreads) {
  Registry registry;
  auto& counter = registry.counter("n_total", "N.").with({});
  auto& histogram = registry.histogram("n_seconds", "N.", {}, {0.5}).with({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        counter.inc();
        histogram.observe(i % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter.value(), 80000U);
  const auto s = histogram.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{40000, 80000}));
  EXPECT_DOUBLE_EQ(s.sum, 40000 * 0.25 + 40000 * 1.0);
}

TEST(MetricsEndpoint, ParsesAddressAndPort) {
  const auto v4 = parse_endpoint("127.0.0.1:9466");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->to_string(), "127.0.0.1:9466");
  EXPECT_EQ(v4->port, 9466);
  const auto v6 = parse_endpoint("[::1]:9466");
  ASSERT_TRUE(v6);
  EXPECT_FALSE(v6->address.is_v4());
  EXPECT_EQ(v6->to_string(), "[::1]:9466");
  EXPECT_EQ(parse_endpoint("0.0.0.0:1")->to_string(), "0.0.0.0:1");
  EXPECT_EQ(parse_endpoint("[2001:DB8::1]:65535")->to_string(), "[2001:db8::1]:65535");
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:94x", "localhost:9466", "::1:9466", "[::1]", "[::1]9466",
                          "[127.0.0.1]:9466", "127.0.0.1:+9466", ":9466", "[::1]:-1"}) {
    EXPECT_FALSE(parse_endpoint(bad)) << bad;
  }
}

}  // namespace
}  // namespace rdns::metrics
