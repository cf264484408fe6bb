// The real enlace-server binary as a child process, for tests that need a
// second replica or must kill a server (SIGKILL) as a crash would. The
// database DSN reaches it through ENLACE_DB_DSN (it may hold a password:
// never on a command line). Header-only; the binary's path comes from
// ENLACE_SERVER_BINARY, defined by the test's CMake target.
//
//   ServerProcess server(dir, {.dsn = ..., .ca = ..., ...});
//   ASSERT_GT(server.port(), 0);
//   server.Kill();  // SIGKILL: no shutdown, as in a crash
#ifndef ENLACE_TESTS_TESTING_SERVER_PROCESS_H_
#define ENLACE_TESTS_TESTING_SERVER_PROCESS_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace enlace::testing {

class ServerProcess {
 public:
  struct Options {
    std::string dsn;  // the server user's
    std::string ca;
    std::string cert;
    std::string key;
    std::string policy;
    std::string token_keys;
    std::string name = "server";  // <dir>/<name>.ready and <name>.log
    std::vector<std::string> extra_flags = {};
    // NAME=VALUE pairs added to the child's environment only (e.g. the
    // test-only ENLACE_TESTING_CRASH_POINT of db/crash_points.h).
    std::vector<std::string> environment = {};
  };

  // Starts the binary and waits (at most 30 s) until it is serving;
  // port() is 0 if it did not come up (its log says why).
  ServerProcess(const std::string& dir, const Options& options) {
    ready_ = dir + "/" + options.name + ".ready";
    log_ = dir + "/" + options.name + ".log";
    std::remove(ready_.c_str());
    pid_ = fork();
    if (pid_ == 0) {
      FILE* out = freopen(log_.c_str(), "a", stderr);
      (void)out;
      setenv("ENLACE_DB_DSN", options.dsn.c_str(), 1);
      for (const std::string& pair : options.environment) {
        size_t eq = pair.find('=');
        setenv(pair.substr(0, eq).c_str(), pair.substr(eq + 1).c_str(), 1);
      }
      std::vector<std::string> args = {
          ENLACE_SERVER_BINARY, "--ca_cert=" + options.ca, "--server_cert=" + options.cert,
          "--server_key=" + options.key, "--policy=" + options.policy,
          "--token_keys=" + options.token_keys, "--tls_addr=127.0.0.1:0",
          "--health_addr=", "--metrics_addr=", "--db_pool_size=8", "--worker_threads=2",
          // No drain on SIGTERM (no load balancer
          // to wait for); a test of the drain
          // sets its own in extra_flags.
          "--drain_seconds=0", "--ready_file=" + ready_};
      args.insert(args.end(), options.extra_flags.begin(), options.extra_flags.end());
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline && port_ == 0 && Alive()) {
      std::ifstream in(ready_);
      std::string line;
      while (std::getline(in, line)) {
        if (line.rfind("tls_port=", 0) == 0) port_ = std::stoi(line.substr(9));
      }
      if (port_ == 0) absl::SleepFor(absl::Milliseconds(20));
    }
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() { Stop(SIGTERM); }

  int port() const { return port_; }
  const std::string& log_path() const { return log_; }

  // SIGKILL and reap: the server gets no chance to finish anything.
  void Kill() { Stop(SIGKILL); }

  // Waits (at most `timeout`) for the process to end by itself; true if it
  // did, and then terminated_by() is the signal that ended it (0: exited).
  bool WaitForExit(absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (Alive()) {
      if (absl::Now() >= deadline) return false;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return true;
  }
  int terminated_by() const { return terminated_by_; }

 private:
  bool Alive() {
    int status = 0;
    if (pid_ <= 0) return false;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      terminated_by_ = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
      pid_ = -1;
      return false;
    }
    return true;
  }
  void Stop(int signal_number) {
    if (pid_ <= 0) return;
    kill(pid_, signal_number);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string ready_;
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
  int terminated_by_ = 0;
};

}  // namespace enlace::testing

#endif  // ENLACE_TESTS_TESTING_SERVER_PROCESS_H_
