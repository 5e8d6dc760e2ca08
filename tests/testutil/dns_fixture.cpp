#include "testutil/dns_fixture.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include <nlohmann/json.hpp>

namespace rdns::test {
namespace {

DnsFixture* running = nullptr;

/// Closes a descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  [[nodiscard]] int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string join(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) {
    if (!text.empty()) text += ' ';
    text += arg;
  }
  return text;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  std::array<int, 2> out_pipe{};
  std::array<int, 2> err_pipe{};
  if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0 || ::pipe2(err_pipe.data(), O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe2");
  }
  Fd out_read(out_pipe[0]);
  Fd out_write(out_pipe[1]);
  Fd err_read(err_pipe[0]);
  Fd err_write(err_pipe[1]);

  // Note: posix_spawn rather than fork: the test process runs libunbound threads.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    throw std::system_error(rc, std::generic_category(), "posix_spawnp " + argv.at(0));
  }
  out_write.reset();
  err_write.reset();

  ProcessResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool killed = false;
  std::array<pollfd, 2> fds{pollfd{out_read.get(), POLLIN, 0}, pollfd{err_read.get(), POLLIN, 0}};
  std::array<std::string*, 2> sinks{&result.out, &result.err};
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 && !killed) {
      ::kill(pid, SIGKILL);
      killed = true;
    } else if (killed && left < -5s) {
      break;  // a grandchild still holds the pipes open
    }
    if (::poll(fds.data(), fds.size(), killed ? 1000 : static_cast<int>(left.count())) < 0 &&
        errno != EINTR) {
      break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      std::array<char, 4096> buffer{};
      const ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
      if (n > 0) {
        sinks[i]->append(buffer.data(), static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string required_env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(std::string("environment variable ") + name +
                             " is not set; run the tests with `meson test`");
  }
  return value;
}

void DnsFixture::SetUp() {
  try {
    script_ = required_env("RDNS_DNSFIXTURE");
    const char* python = std::getenv("RDNS_PYTHON");
    python_ = python != nullptr && *python != '\0' ? python : "python3";
    std::filesystem::path base = std::filesystem::temp_directory_path();
    std::string pattern = (base / "rdns-dnsfixture-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    dir_ = pattern;
    const auto result = run_process({python_, script_, "start", dir_, "--watch-pid",
                                     std::to_string(::getpid()), "--remove-dir"},
                                    60s);
    if (result.exit_status != 0) {
      throw std::runtime_error("dnsfixture start failed (exit " +
                               std::to_string(result.exit_status) + "): " + result.err);
    }
    const auto info = nlohmann::json::parse(result.out);
    unbound_conf_ = info.at("unbound_conf").get<std::string>();
    port_ = info.at("port").get<int>();
    running = this;
  } catch (const std::exception& e) {
    TearDown();
    FAIL() << "DNS fixture: " << e.what();
  }
}

void DnsFixture::TearDown() {
  running = nullptr;
  if (dir_.empty()) return;
  const auto result = run_process({python_, script_, "stop", dir_}, 60s);
  if (result.exit_status != 0) {
    ADD_FAILURE() << "dnsfixture stop failed: " << result.err;
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
  dir_.clear();
}

DnsFixture& DnsFixture::get() {
  if (running == nullptr) {
    throw std::logic_error("the DNS fixture is not running (see the environment's failure)");
  }
  return *running;
}

void DnsFixture::run_fixture(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{python_, script_};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto result = run_process(argv, 60s);
  if (result.exit_status != 0) {
    throw std::runtime_error(join(argv) + " failed: " + result.err);
  }
}

void DnsFixture::add_record(const std::string& zone, const std::string& rr) const {
  run_fixture({"add-record", dir_, zone, rr});
}

void DnsFixture::remove_record(const std::string& zone, const std::string& rr) const {
  run_fixture({"remove-record", dir_, zone, rr});
}

dns::ResolverConfig fixture_resolver_config(std::chrono::milliseconds query_timeout) {
  dns::ResolverConfig config;
  config.unbound_config = DnsFixture::get().unbound_conf();
  config.query_timeout = query_timeout;
  return config;
}

}  // namespace rdns::test
