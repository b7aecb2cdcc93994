/* Running the bslab binary from a test: its exit status, stdout and stderr,
 * and the per-suite temp directory the runs write into.  Shared by every
 * suite that checks the CLI contract (docs/bslab.1, DESIGN 5). */
#ifndef BS_TEST_CLI_H
#define BS_TEST_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* One finished bslab run. */
typedef struct bs_cli_run {
  int status;  /* exit status, or 128 + signal */
  char *out;   /* stdout, NUL-terminated (may hold NULs before the end) */
  size_t outlen;
  char *err;   /* stderr */
  /* The most memory the run held (getrusage's ru_maxrss), in KiB.  It counts
   * the fork's copy of the test process too (the kernel carries the peak
   * across execve), so a run is known to have held at most
   * maxrss_kb - fork_rss_kb of its own only when that is small. */
  long maxrss_kb;
  long fork_rss_kb; /* the test process's resident size when it forked the run */
} bs_cli_run;

/* Make the suite's temp dir /tmp/bslab-@name-XXXXXX, unset BSLAB_IMAGE and
 * point BSLAB_TRACE_DIR into it; 0 or -1.  For cmocka's group setup. */
int bs_cli_setup(const char *name);
/* Remove the temp dir and everything in it; for cmocka's group teardown. */
int bs_cli_teardown(void);
/* The suite's temp dir (after bs_cli_setup()). */
const char *bs_cli_tmp(void);

/* Run bslab (bs_test_bslab()) with the NULL-terminated @args, stdin from
 * @in (NULL: /dev/null), and wait for it. */
void bs_cli_in(bs_cli_run *r, const char *in, const char *const *args);
void bs_cli_free(bs_cli_run *r);
/* Kill later runs that take longer than @seconds (SIGALRM, status 142),
 * so a run that would never end fails the test instead; 0: no limit. */
void bs_cli_set_time_limit(unsigned seconds);
/* Fail (showing what the command printed) unless it exited @status. */
void bs_cli_expect_status(const bs_cli_run *r, int status, const char *what);
/* Fail unless @needle is in @hay. */
void bs_cli_expect_contains(const char *hay, const char *needle, const char *what);
/* Run bslab with @args; expect exit @status, @out_has in stdout and @err_has
 * in stderr (NULL: anything). */
void bs_cli_check(int status, const char *out_has, const char *err_has, const char *const *args);
/* The whole of host file @path, NUL-terminated; *@len gets its length. */
char *bs_cli_slurp(const char *path, size_t *len);
/* Write @text to host file @path (replacing it). */
void bs_cli_write_text(const char *path, const char *text);

/* Run shell command @cmd (its stderr too if it says 2>&1); its exit status
 * (128 when it did not exit), and the first @cap - 1 bytes of its standard
 * output in @out, NUL-terminated. */
int bs_cli_shell(const char *cmd, char *out, size_t cap);

/* Start bslab with @args (NULL-terminated) without waiting: in directory
 * @cwd (NULL: this one), stdin /dev/null, stdout and stderr appended to
 * @out and @err (created if need be; NULL: /dev/null).  Returns its pid. */
int bs_cli_spawn(const char *cwd, const char *out, const char *err, const char *const *args);
/* Wait for a process of bs_cli_spawn(): its exit status, or 128 + signal. */
int bs_cli_wait(int pid);

/* Why `bslab mount` cannot work here (no usable /dev/fuse, not root and no
 * fusermount3, bslab built without libfuse3), or NULL: it can. */
const char *bs_cli_fuse_unavailable(void);
/* True if @mp is a bslab mount now (/proc/self/mountinfo). */
bool bs_cli_fuse_mounted(const char *mp);

#define BSLAB(r, ...) bs_cli_in((r), NULL, (const char *const[]){__VA_ARGS__, NULL})
#define EXPECT(status, out_has, err_has, ...)                                           \
  bs_cli_check((status), (out_has), (err_has), (const char *const[]){__VA_ARGS__, NULL})

#endif
