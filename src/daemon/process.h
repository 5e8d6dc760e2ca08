#pragma once
/// The daemon as a process: the pid file and its lock, the unix socket's owner and mode, the
/// switch to an unprivileged user, and readiness for systemd. Used by main.cpp only.

#include <sys/types.h>

#include <optional>
#include <stdexcept>
#include <string>

#include "rdns/dns/unique_fd.h"

namespace rdns::daemon {

/// A refusal to start; what() is the one line to log.
class StartError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The file name of a unix:/local: milter socket, nullopt for inet sockets.
[[nodiscard]] std::optional<std::string> unix_socket_path(const std::string& socket);

/// A pid file locked (flock, exclusive) for the life of the process.
class PidFile {
 public:
  /// Opens (creating) and locks `path`; throws StartError naming the pid of the process that
  /// holds the lock.
  explicit PidFile(std::string path);
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;
  PidFile(PidFile&&) = delete;
  PidFile& operator=(PidFile&&) = delete;
  ~PidFile();

  /// Writes this process's pid (call after daemon(): the lock survives the fork).
  void write_pid() const;
  /// Removes the file (while still holding the lock); done once, errors ignored.
  void remove();

 private:
  std::string path_;
  dns::UniqueFd fd_;
  bool removed_ = false;
};

/// The pid written in `pid_file`, if it holds one.
[[nodiscard]] std::optional<pid_t> read_pid(const std::string& pid_file);

/// Before binding a unix socket: refuses (StartError) when a process listens on `path`, naming
/// its pid (from the socket's peer credentials, else from `pid_file`), or when `path` is not a
/// socket; removes a stale socket (nothing listening). Returns a line for the log, or "".
[[nodiscard]] std::string clear_stale_socket(const std::string& path, const std::string& pid_file);

/// Whom the daemon runs as after opening its socket.
struct Identity {
  bool change = false;  ///< switch (started as root, user not root)
  std::string user;
  uid_t uid = 0;
  gid_t gid = 0;
};

/// Decides the identity from the user and group options and the process's own: as root, a
/// user is required (user = root keeps root); not as root, user and group must be the
/// process's own. Throws StartError.
[[nodiscard]] Identity target_identity(const std::string& user, const std::string& group);

/// Gives the socket file its mode and group (socket-group, else the identity's group) and,
/// when switching, the identity's user as owner. Throws StartError.
void set_socket_access(const std::string& path, unsigned mode, const std::string& socket_group,
                       const Identity& identity);

/// Switches to the identity (initgroups, setgid, setuid) and verifies that root cannot be
/// regained. Throws StartError.
void drop_privileges(const Identity& identity);

/// Tells systemd the service state (sd_notify); a no-op when NOTIFY_SOCKET is unset.
void notify(const std::string& state);

/// "MONOTONIC_USEC=..." for a RELOADING=1 message.
[[nodiscard]] std::string monotonic_usec();

}  // namespace rdns::daemon
