#include "daemon/process.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <utility>

#include <fmt/format.h>

namespace rdns::daemon {
namespace {

std::string error_text(int error) {
  return std::strerror(error);  // NOLINT(concurrency-mt-unsafe): start-up, one thread
}

/// A passwd entry's uid, gid and name.
struct User {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
};

std::optional<User> find_user(const std::string& name) {
  passwd entry{};
  passwd* found = nullptr;
  std::array<char, 4096> buffer{};
  if (getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr) {
    return std::nullopt;
  }
  return User{entry.pw_uid, entry.pw_gid, entry.pw_name};
}

std::optional<gid_t> find_group(const std::string& name) {
  group entry{};
  group* found = nullptr;
  std::array<char, 4096> buffer{};
  if (getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr) {
    return std::nullopt;
  }
  return entry.gr_gid;
}

std::optional<pid_t> parse_pid(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  pid_t pid = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, pid);
  if (text.empty() || ec != std::errc{} || ptr != end || pid <= 0) return std::nullopt;
  return pid;
}

std::optional<pid_t> read_pid_from(int fd) {
  std::array<char, 32> buffer{};
  const auto n = pread(fd, buffer.data(), buffer.size() - 1, 0);
  if (n <= 0) return std::nullopt;
  return parse_pid(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
}

std::string pid_phrase(std::optional<pid_t> pid) {
  return pid ? fmt::format("pid {}", *pid) : std::string("a process whose pid is unknown");
}

}  // namespace

std::optional<std::string> unix_socket_path(const std::string& socket) {
  for (const std::string prefix : {"unix:", "local:"}) {
    if (socket.rfind(prefix, 0) == 0) return socket.substr(prefix.size());
  }
  return std::nullopt;
}

PidFile::PidFile(std::string path) : path_(std::move(path)) {
  // Note: the lock goes with the open file, so a file unlinked by an instance that is just
  // stopping could be locked after its name is gone: lock again until name and file agree.
  for (int attempt = 0; attempt < 5; ++attempt) {
    fd_.reset(open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd_) {
      throw StartError(fmt::format("pid file {}: cannot open it: {}", path_, error_text(errno)));
    }
    if (flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) {
        throw StartError(fmt::format("pid file {}: cannot lock it: {}", path_, error_text(errno)));
      }
      throw StartError(
          fmt::format("pid file {} is locked by a running instance ({}); refusing "
                      "to start a second one",
                      path_, pid_phrase(read_pid_from(fd_.get()))));
    }
    struct stat opened {};
    struct stat named {};
    if (fstat(fd_.get(), &opened) == 0 && stat(path_.c_str(), &named) == 0 &&
        opened.st_dev == named.st_dev && opened.st_ino == named.st_ino) {
      return;
    }
  }
  throw StartError(fmt::format("pid file {}: replaced while being locked", path_));
}

PidFile::~PidFile() {
  remove();
}

void PidFile::write_pid() const {
  const auto text = fmt::format("{}\n", getpid());
  if (ftruncate(fd_.get(), 0) != 0 ||
      pwrite(fd_.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    throw StartError(fmt::format("pid file {}: cannot write it: {}", path_, error_text(errno)));
  }
}

void PidFile::remove() {
  if (removed_ || !fd_) return;
  removed_ = true;
  (void)unlink(path_.c_str());  // may fail after the switch to an unprivileged user
}

std::optional<pid_t> read_pid(const std::string& pid_file) {
  const dns::UniqueFd fd(open(pid_file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  return fd ? read_pid_from(fd.get()) : std::nullopt;
}

std::string clear_stale_socket(const std::string& path, const std::string& pid_file) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    throw StartError(fmt::format("socket {}: {}", path, error_text(errno)));
  }
  if (!S_ISSOCK(st.st_mode)) {
    throw StartError(
        fmt::format("socket {}: the file exists and is not a socket; refusing to "
                    "replace it",
                    path));
  }
  const dns::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof address.sun_path - 1);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
    ucred peer{};
    socklen_t length = sizeof peer;
    std::optional<pid_t> pid;
    if (getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &length) == 0 && peer.pid > 0) {
      pid = peer.pid;
    } else if (!pid_file.empty()) {
      pid = read_pid(pid_file);
    }
    throw StartError(
        fmt::format("socket {} is in use by a running process ({}); refusing to "
                    "start a second instance on it",
                    path, pid_phrase(pid)));
  }
  if (errno != ECONNREFUSED) {
    throw StartError(
        fmt::format("socket {}: cannot tell whether it is in use: {}", path, error_text(errno)));
  }
  if (unlink(path.c_str()) != 0) {
    throw StartError(
        fmt::format("socket {}: cannot remove the stale socket: {}", path, error_text(errno)));
  }
  return fmt::format("removed the stale socket {} (nothing was listening on it)", path);
}

Identity target_identity(const std::string& user, const std::string& group) {
  Identity identity;
  const bool root = geteuid() == 0;
  if (root && user.empty()) {
    throw StartError(
        "refusing to run as root: set user = NAME (the Debian package's is "
        "rdns-milter) to switch to it once the socket is open, or user = root");
  }
  const auto account = user.empty() ? std::nullopt : find_user(user);
  if (!user.empty() && !account) throw StartError(fmt::format("user {}: no such user", user));
  const auto group_id = group.empty() ? std::nullopt : find_group(group);
  if (!group.empty() && !group_id) throw StartError(fmt::format("group {}: no such group", group));
  identity.uid = account ? account->uid : geteuid();
  identity.gid = group_id ? *group_id : account ? account->gid : getegid();
  identity.user = account ? account->name : std::string();
  if (root) {
    identity.change = identity.uid != 0;
    return identity;
  }
  if (identity.uid != geteuid() || identity.gid != getegid()) {
    throw StartError(
        fmt::format("cannot switch to user {} and group {}: not started as root "
                    "(running as uid {}, gid {})",
                    user.empty() ? "(unchanged)" : user, group.empty() ? "(its own)" : group,
                    geteuid(), getegid()));
  }
  return identity;
}

void set_socket_access(const std::string& path, unsigned mode, const std::string& socket_group,
                       const Identity& identity) {
  gid_t gid = identity.change ? identity.gid : static_cast<gid_t>(-1);
  if (!socket_group.empty()) {
    const auto found = find_group(socket_group);
    if (!found) throw StartError(fmt::format("socket-group {}: no such group", socket_group));
    gid = *found;
  }
  const uid_t uid = identity.change ? identity.uid : static_cast<uid_t>(-1);
  if ((uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1)) &&
      lchown(path.c_str(), uid, gid) != 0) {
    throw StartError(
        fmt::format("socket {}: cannot give it to {}:{}: {}{}", path,
                    identity.change ? identity.user : "(unchanged)",
                    socket_group.empty() ? "(unchanged)" : socket_group, error_text(errno),
                    geteuid() != 0 ? " (the daemon must be a member of the group)" : ""));
  }
  if (chmod(path.c_str(), mode) != 0) {
    throw StartError(
        fmt::format("socket {}: cannot set mode {:04o}: {}", path, mode, error_text(errno)));
  }
}

void drop_privileges(const Identity& identity) {
  if (!identity.change) return;
  if (initgroups(identity.user.c_str(), identity.gid) != 0 || setgid(identity.gid) != 0 ||
      setuid(identity.uid) != 0) {
    throw StartError(fmt::format("cannot switch to user {} (uid {}, gid {}): {}", identity.user,
                                 identity.uid, identity.gid, error_text(errno)));
  }
  if (getuid() != identity.uid || geteuid() != identity.uid || getgid() != identity.gid ||
      getegid() != identity.gid || setuid(0) == 0) {
    throw StartError(fmt::format("switching to user {} did not take: uid {}/{}, gid {}/{}",
                                 identity.user, getuid(), geteuid(), getgid(), getegid()));
  }
}

void notify(const std::string& state) {
  (void)sd_notify(0, state.c_str());
}

std::string monotonic_usec() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const auto usec = static_cast<long long>(now.tv_sec) * 1000000LL + now.tv_nsec / 1000;
  return fmt::format("MONOTONIC_USEC={}", usec);
}

}  // namespace rdns::daemon
