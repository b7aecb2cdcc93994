/* Running the bslab binary from a test (see cli.h). */
#include "tests/support/cli.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/bs_test.h"

static char tmp[96]; /* per-suite temp dir under /tmp */
static unsigned time_limit; /* seconds a run may take; 0: no limit */

void bs_cli_set_time_limit(unsigned seconds) { time_limit = seconds; }

const char *bs_cli_tmp(void) { return tmp; }

char *bs_cli_slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap + 1);
  assert_non_null(buf);
  size_t got;
  while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      buf = realloc(buf, (cap *= 2) + 1);
      assert_non_null(buf);
    }
  }
  fclose(f);
  buf[n] = '\0';
  if (len)
    *len = n;
  return buf;
}

void bs_cli_write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

void bs_cli_free(bs_cli_run *r) {
  free(r->out);
  free(r->err);
  memset(r, 0, sizeof(*r));
}

/* Resident size of this process in KiB (VmRSS), 0 if unknown. */
static long self_rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  long kb = 0;
  char line[256];
  while (f && fgets(line, sizeof(line), f))
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
      break;
  if (f)
    fclose(f);
  return kb;
}

/* Start bslab with @args in @cwd (NULL: here), stdin from @in, stdout and
 * stderr to @out and @err opened with @mode (O_TRUNC or O_APPEND). */
static pid_t start(const char *cwd, const char *in, const char *out, const char *err, int mode,
                   const char *const *args) {
  char bslab[4096];
  if (!realpath(bs_test_bslab(), bslab)) /* a relative one is not found from @cwd */
    fail_msg("cannot find %s (set BSLAB or run make first)", bs_test_bslab());
  const char *argv[32] = {bslab};
  int n = 1;
  while (args[n - 1] && n < 31) {
    argv[n] = args[n - 1];
    n++;
  }
  argv[n] = NULL;
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int i = open(in ? in : "/dev/null", O_RDONLY);
    int o = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | mode, 0644);
    int e = open(err ? err : "/dev/null", O_WRONLY | O_CREAT | mode, 0644);
    if (i < 0 || o < 0 || e < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 ||
        (cwd && chdir(cwd) != 0))
      _exit(126);
    if (time_limit)
      alarm(time_limit); /* kept across execv */
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  return pid;
}

int bs_cli_spawn(const char *cwd, const char *out, const char *err, const char *const *args) {
  return start(cwd, NULL, out, err, O_APPEND, args);
}

/* Wait for @pid: its exit status, or 128 + signal; its peak memory in
 * *@maxrss_kb (if not NULL). */
static int wait_run(int pid, long *maxrss_kb) {
  int ws = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof(ru));
  assert_int_equal(wait4(pid, &ws, 0, &ru), pid);
  if (maxrss_kb)
    *maxrss_kb = ru.ru_maxrss;
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

int bs_cli_wait(int pid) { return wait_run(pid, NULL); }

void bs_cli_in(bs_cli_run *r, const char *in, const char *const *args) {
  char outp[128], errp[128];
  snprintf(outp, sizeof(outp), "%s/stdout", tmp);
  snprintf(errp, sizeof(errp), "%s/stderr", tmp);
  r->fork_rss_kb = self_rss_kb();
  r->status = wait_run(start(NULL, in, outp, errp, O_TRUNC, args), &r->maxrss_kb);
  r->out = bs_cli_slurp(outp, &r->outlen);
  r->err = bs_cli_slurp(errp, NULL);
  if (r->status == 127 || r->status == 126)
    fail_msg("could not run %s (set BSLAB or run make first)", bs_test_bslab());
}

int bs_cli_shell(const char *cmd, char *out, size_t cap) {
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = '\0';
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

void bs_cli_expect_status(const bs_cli_run *r, int status, const char *what) {
  if (r->status != status)
    fail_msg("%s: exit %d, expected %d\nstdout: %s\nstderr: %s", what, r->status, status, r->out,
             r->err);
}

void bs_cli_expect_contains(const char *hay, const char *needle, const char *what) {
  if (!strstr(hay, needle))
    fail_msg("%s: expected to find \"%s\" in:\n%s", what, needle, hay);
}

void bs_cli_check(int status, const char *out_has, const char *err_has, const char *const *args) {
  bs_cli_run r;
  bs_cli_in(&r, NULL, args);
  char what[256] = "bslab";
  for (int i = 0; args[i] && strlen(what) + strlen(args[i]) + 2 < sizeof(what); i++)
    strcat(strcat(what, " "), args[i]);
  bs_cli_expect_status(&r, status, what);
  if (out_has)
    bs_cli_expect_contains(r.out, out_has, what);
  if (err_has)
    bs_cli_expect_contains(r.err, err_has, what);
  bs_cli_free(&r);
}

int bs_cli_setup(const char *name) {
  snprintf(tmp, sizeof(tmp), "/tmp/bslab-%s-XXXXXX", name);
  unsetenv("BSLAB_IMAGE");
  if (!mkdtemp(tmp))
    return -1;
  /* Failing campaigns write traces: into the temp dir, not the working dir. */
  char traces[128];
  snprintf(traces, sizeof(traces), "%s/traces", tmp);
  return setenv("BSLAB_TRACE_DIR", traces, 1);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

int bs_cli_teardown(void) { return nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

const char *bs_cli_fuse_unavailable(void) {
  if (access("/dev/fuse", R_OK | W_OK) != 0)
    return "no usable /dev/fuse";
  if (geteuid() != 0 && access("/usr/bin/fusermount3", X_OK) != 0 &&
      access("/bin/fusermount3", X_OK) != 0)
    return "not root and no fusermount3";
  bs_cli_run r;
  BSLAB(&r, "mount", "--reap", "/");
  bool without = strstr(r.err, "built without libfuse3") != NULL;
  bs_cli_free(&r);
  if (without)
    return "bslab was built without libfuse3 (install libfuse3-dev)";
  return NULL;
}

bool bs_cli_fuse_mounted(const char *mp) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f)
    return false;
  char line[8192];
  bool found = false;
  while (!found && fgets(line, sizeof(line), f)) {
    char point[4096], rest[4096];
    if (sscanf(line, "%*s %*s %*s %*s %4095s %*[^-]- %4095s", point, rest) == 2)
      found = strcmp(point, mp) == 0 && strcmp(rest, "fuse.bslab") == 0;
  }
  fclose(f);
  return found;
}
