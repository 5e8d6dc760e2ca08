#pragma once
/// Integration-test support: the DNS fixture (tests/fixture/dnsfixture.py) as a gtest
/// Environment, a resolver configuration pointing at it, and a subprocess runner.

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "rdns/dns/unbound_resolver.h"

namespace rdns::test {

using namespace std::chrono_literals;

/// What a child process did.
struct ProcessResult {
  int exit_status = -1;  ///< exit code, or 128 + signal number when killed
  std::string out;
  std::string err;
};

/// Runs argv[0] (looked up in PATH) with argv, stdin from /dev/null; kills it after `timeout`.
[[nodiscard]] ProcessResult run_process(const std::vector<std::string>& argv,
                                        std::chrono::seconds timeout = 60s);

/// An environment variable that must be set (by meson); fails the test otherwise.
[[nodiscard]] std::string required_env(const char* name);

/// Starts the DNS fixture once per test binary in a fresh temporary directory, and stops it
/// and deletes the directory at the end. A watchdog started with the fixture cleans up too if
/// the test binary crashes or is killed. Register with
/// `testing::AddGlobalTestEnvironment(new rdns::test::DnsFixture)`.
class DnsFixture : public ::testing::Environment {
 public:
  void SetUp() override;
  void TearDown() override;

  /// The running fixture; only valid between SetUp and TearDown.
  static DnsFixture& get();

  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] const std::string& unbound_conf() const { return unbound_conf_; }
  [[nodiscard]] int port() const { return port_; }

  /// Adds one zone-file line to `zone` and waits until the server publishes it.
  void add_record(const std::string& zone, const std::string& rr) const;
  /// Removes a line added with add_record.
  void remove_record(const std::string& zone, const std::string& rr) const;

 private:
  void run_fixture(const std::vector<std::string>& args) const;

  std::string python_;
  std::string script_;
  std::string dir_;
  std::string unbound_conf_;
  int port_ = 0;
};

/// A resolver configuration that reads the fixture's unbound.conf.
[[nodiscard]] dns::ResolverConfig fixture_resolver_config(
    std::chrono::milliseconds query_timeout = 2s);

/// Deadline for queries meant to time out: shorter than the ≈0.75 s libunbound needs to give
/// up on the blackhole (infra-cache-max-rtt 500), so the resolver's own deadline fires first.
inline constexpr std::chrono::milliseconds short_timeout = 300ms;

/// Parses an address the test data spells correctly; throws (failing the test) otherwise.
inline dns::IpAddress ip(std::string_view text) {
  auto parsed = dns::IpAddress::parse(text);
  if (!parsed) throw std::invalid_argument(std::string(text));
  return *parsed;
}

}  // namespace rdns::test
