/* The libssh peer of the benchmark suite (bench/run): the same work as bench/ssh2_client.js and
 * bench/coder_runtime_client.cpp, through libssh's own API, printing one JSON line.
 *
 *   libssh_client (--host H --port P | --proxy COMMAND) [--user U] [--key FILE] [--cipher NAME] MODE ...
 *
 * Modes (the remote command is `true` unless said otherwise):
 *   cold COUNT          COUNT times: connect, authenticate, exec, read to the exit status,
 *                       disconnect; {"wall_us": [...], "cpu_us": total}
 *   warm COUNT          one connection, one untimed exec, then COUNT timed execs; same output
 *   concurrent N ROUNDS one connection; ROUNDS times N execs at once; wall per round
 *   stream BYTES        one connection; `head -c BYTES /dev/zero`, counted;
 *                       {"bytes": n, "wall_us": t, "cpu_us": c}
 *   idle N              one connection, then N more held idle;
 *                       {"rss_kb_before": a, "rss_kb_after": b, "connections": N}
 * Authentication is "none" first, then the key when one is given (what ssh does). The host key is
 * not checked: the servers are the benchmark's own, started a moment earlier.
 */
#include <libssh/libssh.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct target {
  const char *host;
  int port;
  const char *proxy;
  const char *user;
  const char *key;
  const char *cipher;
};

static void die(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("libssh_client: ", stderr);
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  va_end(args);
  exit(1);
}

static long long now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static long long cpu_us(void) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return (long long)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000 + usage.ru_utime.tv_usec +
         usage.ru_stime.tv_usec;
}

static long rss_kb(void) {
  FILE *status = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  if (!status) return -1;
  while (fgets(line, sizeof line, status))
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
  fclose(status);
  return kb;
}

static ssh_session connect_session(const struct target *t) {
  ssh_session session = ssh_new();
  int no = 0;
  if (!session) die("ssh_new failed");
  ssh_options_set(session, SSH_OPTIONS_PROCESS_CONFIG, &no);
  ssh_options_set(session, SSH_OPTIONS_HOST, t->host ? t->host : "bench");
  if (t->proxy) ssh_options_set(session, SSH_OPTIONS_PROXYCOMMAND, t->proxy);
  if (t->port) ssh_options_set(session, SSH_OPTIONS_PORT, &t->port);
  if (t->user) ssh_options_set(session, SSH_OPTIONS_USER, t->user);
  if (t->cipher) {
    ssh_options_set(session, SSH_OPTIONS_CIPHERS_C_S, t->cipher);
    ssh_options_set(session, SSH_OPTIONS_CIPHERS_S_C, t->cipher);
  }
  if (ssh_connect(session) != SSH_OK) die("connect: %s", ssh_get_error(session));
  int auth = ssh_userauth_none(session, NULL);
  if (auth != SSH_AUTH_SUCCESS && t->key) {
    ssh_key key = NULL;
    if (ssh_pki_import_privkey_file(t->key, NULL, NULL, NULL, &key) != SSH_OK) die("cannot read %s", t->key);
    auth = ssh_userauth_publickey(session, NULL, key);
    ssh_key_free(key);
  }
  if (auth != SSH_AUTH_SUCCESS) die("authentication failed: %s", ssh_get_error(session));
  return session;
}

static void disconnect_session(ssh_session session) {
  ssh_disconnect(session);
  ssh_free(session);
}

/* Runs command on a new channel, reads stdout (counted) and stderr to EOF, and returns how many
 * stdout bytes came; a nonzero exit status is an error. */
static long long run(ssh_session session, const char *command) {
  static char buffer[64 * 1024];
  long long bytes = 0;
  int n;
  ssh_channel channel = ssh_channel_new(session);
  if (!channel || ssh_channel_open_session(channel) != SSH_OK) die("open session: %s", ssh_get_error(session));
  if (ssh_channel_request_exec(channel, command) != SSH_OK) die("exec: %s", ssh_get_error(session));
  while ((n = ssh_channel_read(channel, buffer, sizeof buffer, 0)) > 0) bytes += n;
  if (n < 0) die("read: %s", ssh_get_error(session));
  while ((n = ssh_channel_read(channel, buffer, sizeof buffer, 1)) > 0) {
  }
  int status = ssh_channel_get_exit_status(channel);
  if (status != 0) die("`%s` exited with %d", command, status);
  ssh_channel_close(channel);
  ssh_channel_free(channel);
  return bytes;
}

static void print_times(const long long *wall, int count, long long cpu) {
  printf("{\"wall_us\": [");
  for (int i = 0; i < count; ++i) printf("%s%lld", i ? ", " : "", wall[i]);
  printf("], \"cpu_us\": %lld}\n", cpu);
}

/* N execs in flight on one connection: libssh's calls are synchronous unless the session is
 * non-blocking, so each channel is a small state machine stepped until all reach EOF. */
enum step { opening, requesting, reading, finished };

static long long concurrent_round(ssh_session session, int n) {
  ssh_channel channels[n];
  enum step steps[n];
  char buffer[16 * 1024];
  int done = 0;
  long long started = now_us();
  for (int i = 0; i < n; ++i) {
    channels[i] = ssh_channel_new(session);
    steps[i] = opening;
  }
  ssh_set_blocking(session, 0);
  while (done < n) {
    for (int i = 0; i < n; ++i) {
      int rc;
      switch (steps[i]) {
        case opening:
          rc = ssh_channel_open_session(channels[i]);
          if (rc == SSH_OK) steps[i] = requesting;
          else if (rc != SSH_AGAIN) die("open session: %s", ssh_get_error(session));
          break;
        case requesting:
          rc = ssh_channel_request_exec(channels[i], "true");
          if (rc == SSH_OK) steps[i] = reading;
          else if (rc != SSH_AGAIN) die("exec: %s", ssh_get_error(session));
          break;
        case reading:
          rc = ssh_channel_read_nonblocking(channels[i], buffer, sizeof buffer, 0);
          if (rc == SSH_ERROR) die("read: %s", ssh_get_error(session));
          if (rc == SSH_EOF || (rc == 0 && ssh_channel_is_eof(channels[i]))) {
            steps[i] = finished;
            ++done;
          }
          break;
        case finished:
          break;
      }
    }
    if (done < n) {
      struct pollfd readable = {.fd = ssh_get_fd(session), .events = POLLIN};
      poll(&readable, 1, 5);
    }
  }
  long long elapsed = now_us() - started;
  ssh_set_blocking(session, 1);
  for (int i = 0; i < n; ++i) {
    int status = ssh_channel_get_exit_status(channels[i]);
    if (status != 0) die("exec %d exited with %d", i, status);
    ssh_channel_close(channels[i]);
    ssh_channel_free(channels[i]);
  }
  return elapsed;
}

static int count_arg(char **argv, int i, int argc) {
  if (i >= argc) die("a count is missing");
  int value = atoi(argv[i]);
  if (value <= 0) die("not a positive count: %s", argv[i]);
  return value;
}

int main(int argc, char **argv) {
  struct target t = {0};
  int i = 1;
  for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
    if (strcmp(argv[i], "--host") == 0) t.host = argv[i + 1];
    else if (strcmp(argv[i], "--port") == 0) t.port = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--proxy") == 0) t.proxy = argv[i + 1];
    else if (strcmp(argv[i], "--user") == 0) t.user = argv[i + 1];
    else if (strcmp(argv[i], "--key") == 0) t.key = argv[i + 1];
    else if (strcmp(argv[i], "--cipher") == 0) t.cipher = argv[i + 1];
    else die("unknown option %s", argv[i]);
  }
  if (i >= argc) die("usage: libssh_client OPTIONS (cold|warm|concurrent|stream|idle) ...");
  const char *mode = argv[i++];
  ssh_init();
  if (strcmp(mode, "cold") == 0) {
    int count = count_arg(argv, i, argc);
    long long *wall = calloc(count, sizeof *wall), cpu = cpu_us();
    for (int k = 0; k < count; ++k) {
      long long started = now_us();
      ssh_session session = connect_session(&t);
      run(session, "true");
      disconnect_session(session);
      wall[k] = now_us() - started;
    }
    print_times(wall, count, cpu_us() - cpu);
  } else if (strcmp(mode, "warm") == 0) {
    int count = count_arg(argv, i, argc);
    long long *wall = calloc(count, sizeof *wall), cpu;
    ssh_session session = connect_session(&t);
    run(session, "true");
    cpu = cpu_us();
    for (int k = 0; k < count; ++k) {
      long long started = now_us();
      run(session, "true");
      wall[k] = now_us() - started;
    }
    print_times(wall, count, cpu_us() - cpu);
    disconnect_session(session);
  } else if (strcmp(mode, "concurrent") == 0) {
    int n = count_arg(argv, i, argc), rounds = count_arg(argv, i + 1, argc);
    long long *wall = calloc(rounds, sizeof *wall), cpu;
    ssh_session session = connect_session(&t);
    run(session, "true");
    cpu = cpu_us();
    for (int k = 0; k < rounds; ++k) wall[k] = concurrent_round(session, n);
    print_times(wall, rounds, cpu_us() - cpu);
    disconnect_session(session);
  } else if (strcmp(mode, "stream") == 0) {
    if (i >= argc) die("stream needs a byte count");
    char command[64];
    snprintf(command, sizeof command, "head -c %s /dev/zero", argv[i]);
    ssh_session session = connect_session(&t);
    long long cpu = cpu_us(), started = now_us();
    long long bytes = run(session, command);
    long long wall = now_us() - started;
    printf("{\"bytes\": %lld, \"wall_us\": %lld, \"cpu_us\": %lld}\n", bytes, wall, cpu_us() - cpu);
    disconnect_session(session);
  } else if (strcmp(mode, "idle") == 0) {
    int n = count_arg(argv, i, argc);
    ssh_session *held = calloc(n + 1, sizeof *held);
    held[0] = connect_session(&t);
    long before = rss_kb();
    for (int k = 1; k <= n; ++k) held[k] = connect_session(&t);
    long after = rss_kb();
    printf("{\"rss_kb_before\": %ld, \"rss_kb_after\": %ld, \"connections\": %d}\n", before, after, n);
    for (int k = 0; k <= n; ++k) disconnect_session(held[k]);
  } else {
    die("unknown mode %s", mode);
  }
  ssh_finalize();
  return 0;
}
