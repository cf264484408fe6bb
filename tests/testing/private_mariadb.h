// For tests that run a MariaDB server of their own, to stop, kill or pause
// it under the server: a free loopback port for it, and the functions of
// scripts/lib/mariadb.sh (mariadb_init, mariadb_start, mariadb_stop) run
// from the test.
#ifndef ENLACE_TESTS_TESTING_PRIVATE_MARIADB_H_
#define ENLACE_TESTS_TESTING_PRIVATE_MARIADB_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace enlace::testing {

// A port the kernel just handed out and released: free for the database
// (0 if none could be had).
inline int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

// Runs `commands` in bash with scripts/lib/common.sh and mariadb.sh of the
// source tree `source_dir` sourced, `set -e`, standard output discarded.
// Returns std::system's status (0: every command succeeded).
inline int RunMariaDbScript(absl::string_view source_dir, absl::string_view commands) {
  std::string script =
      absl::StrCat("bash -c 'set -e; source ", source_dir, "/scripts/lib/common.sh; source ",
                   source_dir, "/scripts/lib/mariadb.sh; ", commands, "' >/dev/null");
  return std::system(script.c_str());
}

}  // namespace enlace::testing

#endif  // ENLACE_TESTS_TESTING_PRIVATE_MARIADB_H_
