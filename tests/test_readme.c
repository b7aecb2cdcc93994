/* The README's tour runs as written (docs/testing.md, "The README tour").
 *
 * README.md is read when the test runs, never copied into it: every command
 * of every ```sh block runs, in the order of the page, in one shell (so an
 * `export` holds for what follows), in a fresh directory that looks like a
 * fresh clone after `make`: the top-level files copied, the directories
 * linked, and build/bslab the binary under test.  The rules:
 *
 * - a block with lines that start with "$ " is a transcript: those lines are
 *   the commands, and the lines after each are its output, which must match
 *   ("..." in it stands for any text); other blocks are one command a line
 *   ("\" at the end continues it; a line that starts with "#" is a comment);
 * - a command must exit 0, or N when its trailing comment starts with
 *   "exit N" ("# exit 1: UNSUPPORTED");
 * - `make` targets do not run here: the tour starts from what `make` built,
 *   and `make check` is what runs this test;
 * - a path /mnt/btrfs, /mnt/xfs, /mnt/ext4 or /mnt/tmpfs is a mounted volume
 *   of that filesystem, which the README says the command needs: here it is
 *   a fresh volume of the test fixture (tests/support/volume.h).  Without
 *   root and loop devices those commands are skipped, saying why
 *   (BS_REQUIRE_REAL=1 makes that a failure); so are `bslab ramdisk`
 *   commands, which need the same (root, loop devices);
 * - a path /mnt/sim is the mount point of a `bslab mount` (an empty
 *   directory of the test's own): every command of a ```sh block that names
 *   it needs FUSE, and is skipped, saying why, where FUSE is unavailable.
 *   Nothing may be left mounted there when the tour ends. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/bs_test.h"
#include "tests/support/cli.h"
#include "tests/support/volume.h"

/* The longest the whole tour may take. */
#define TOUR_SECONDS 600

static const char *const volume_fs[] = {"btrfs", "xfs", "ext4", "tmpfs"};
/* tour_cmd.fs of a `bslab ramdisk` command: no volume, but root and loop devices. */
#define RAMDISK_CMD 4
/* tour_cmd.fs of a command of a block that names /mnt/sim: it needs FUSE. */
#define MOUNT_CMD 5

/* One command of the README. */
typedef struct tour_cmd {
  char *text;   /* as written (a continued command keeps its "\<newline>") */
  int line;     /* its line in the README */
  int expect;   /* the exit status it must have */
  char *output; /* a transcript's expected output ("" for none), or NULL: not checked */
  bool make;    /* a make target: not run */
  int fs;       /* index in volume_fs of the /mnt/<fs> it needs, RAMDISK_CMD, MOUNT_CMD, or -1 */
  int block;    /* the ```sh block it is in (from 0) */
  bool skipped; /* not run: what it needs is unavailable here */
} tour_cmd;

typedef struct tour {
  tour_cmd *v;
  size_t n, cap;
} tour;

static void tour_free(tour *t) {
  for (size_t i = 0; i < t->n; i++) {
    free(t->v[i].text);
    free(t->v[i].output);
  }
  free(t->v);
  memset(t, 0, sizeof(*t));
}

/* The comment of shell line @s: what follows the first '#' that starts a
 * word outside quotes, or NULL. */
static const char *shell_comment(const char *s) {
  char quote = 0;
  for (const char *p = s; *p; p++) {
    if (quote) {
      if (*p == quote)
        quote = 0;
      else if (*p == '\\' && quote == '"' && p[1])
        p++;
    } else if (*p == '\'' || *p == '"') {
      quote = *p;
    } else if (*p == '\\' && p[1]) {
      p++;
    } else if (*p == '#' && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
      return p + 1;
    }
  }
  return NULL;
}

/* The exit status a command's comment asks for: "exit N" at its start. */
static int expected_status(const char *text) {
  const char *last = strrchr(text, '\n');
  const char *c = shell_comment(last ? last + 1 : text);
  int n = 0;
  if (c && sscanf(c, " exit %d", &n) == 1)
    return n;
  return 0;
}

/* Where @text names volume /mnt/@fs (followed by '/', a blank, a quote or
 * its end), from @from on; NULL if it does not. */
static const char *mention(const char *text, const char *from, const char *fs) {
  char pat[32];
  snprintf(pat, sizeof(pat), "/mnt/%s", fs);
  for (const char *p = strstr(from, pat); p; p = strstr(p + 1, pat))
    if (strchr("/ \t\n'\"", p[strlen(pat)]) && (p == text || p[-1] != '/'))
      return p;
  return NULL;
}

/* Index of the first /mnt/<fs> volume @text names, or -1. */
static int volume_of(const char *text) {
  for (int i = 0; i < (int)(sizeof(volume_fs) / sizeof(volume_fs[0])); i++)
    if (mention(text, text, volume_fs[i]))
      return i;
  return -1;
}

static tour_cmd *tour_add(tour *t, const char *text, size_t len, int line, int block) {
  if (t->n == t->cap) {
    t->cap = t->cap ? 2 * t->cap : 32;
    t->v = realloc(t->v, t->cap * sizeof(*t->v));
    assert_non_null(t->v);
  }
  tour_cmd *c = &t->v[t->n++];
  memset(c, 0, sizeof(*c));
  c->text = strndup(text, len);
  assert_non_null(c->text);
  c->line = line;
  c->block = block;
  c->expect = expected_status(c->text);
  c->fs = volume_of(c->text);
  if (c->fs < 0 && strstr(c->text, "bslab ramdisk "))
    c->fs = RAMDISK_CMD;
  c->make = strncmp(c->text, "make", 4) == 0 && (c->text[4] == ' ' || c->text[4] == '\0');
  return c;
}

/* Append line @s (@n bytes) and a newline to the growing string *@out. */
static void append_line(char **out, const char *s, size_t n) {
  size_t have = *out ? strlen(*out) : 0;
  *out = realloc(*out, have + n + 2);
  assert_non_null(*out);
  memcpy(*out + have, s, n);
  (*out)[have + n] = '\n';
  (*out)[have + n + 1] = '\0';
}

/* The commands of the ```sh blocks of markdown @md, in order. */
static void tour_parse(tour *t, const char *md) {
  memset(t, 0, sizeof(*t));
  bool in_block = false, sh = false, transcript = false;
  tour_cmd *open = NULL; /* a transcript command whose output is being read */
  int line = 0, block = -1;
  for (const char *p = md; *p;) {
    const char *end = strchr(p, '\n');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    line++;
    if (strncmp(p, "```", 3) == 0) {
      if (!in_block) {
        const char *info = p + 3;
        sh = strncmp(info, "sh", 2) == 0 && (len == 5 || info[2] == ' ');
        block += sh;
        /* A transcript block has a "$ " line: look ahead to the fence. */
        transcript = false;
        for (const char *q = end ? end + 1 : p + len; sh && *q && strncmp(q, "```", 3) != 0;) {
          transcript |= strncmp(q, "$ ", 2) == 0;
          const char *e = strchr(q, '\n');
          q = e ? e + 1 : q + strlen(q);
        }
      }
      in_block = !in_block;
      open = NULL;
    } else if (in_block && sh && transcript) {
      if (strncmp(p, "$ ", 2) == 0) {
        open = tour_add(t, p + 2, len - 2, line, block);
        open->output = strdup("");
        assert_non_null(open->output);
      } else if (open) {
        append_line(&open->output, p, len);
      }
    } else if (in_block && sh) {
      size_t skip = strspn(p, " \t");
      if (skip < len && p[skip] != '#') {
        /* Continued lines ("\" at the end) make one command. */
        const char *start = p;
        int first = line;
        while (len > 0 && p[len - 1] == '\\' && end) {
          p = end + 1;
          end = strchr(p, '\n');
          len = end ? (size_t)(end - p) : strlen(p);
          line++;
        }
        tour_add(t, start, (size_t)(p + len - start), first, block);
      }
    }
    p = end ? end + 1 : p + len;
  }
  /* A block that names /mnt/sim is about a mount: all of it needs FUSE. */
  for (size_t i = 0; i < t->n; i++)
    if (mention(t->v[i].text, t->v[i].text, "sim"))
      for (size_t j = 0; j < t->n; j++)
        if (t->v[j].block == t->v[i].block && t->v[j].fs < 0)
          t->v[j].fs = MOUNT_CMD;
}

/* Whether @got matches the expected line @want, where "..." is any text. */
static bool line_matches(const char *want, size_t wn, const char *got, size_t gn) {
  const char *dots = NULL;
  for (size_t i = 0; i + 3 <= wn; i++)
    if (memcmp(want + i, "...", 3) == 0) {
      dots = want + i;
      break;
    }
  if (!dots)
    return wn == gn && memcmp(want, got, wn) == 0;
  size_t head = (size_t)(dots - want);
  if (gn < head || memcmp(want, got, head) != 0)
    return false;
  const char *rest = dots + 3;
  size_t rn = wn - head - 3;
  for (size_t k = head; k <= gn; k++) /* the dots take got[head..k) */
    if (line_matches(rest, rn, got + k, gn - k))
      return true;
  return false;
}

/* Whether output @got matches transcript @want line by line (trailing
 * blanks ignored). */
static bool output_matches(const char *want, const char *got) {
  for (;;) {
    if (!*want || !*got)
      return !*want && !*got;
    size_t wn = strcspn(want, "\n"), gn = strcspn(got, "\n");
    size_t w = wn, g = gn;
    while (w && (want[w - 1] == ' ' || want[w - 1] == '\t'))
      w--;
    while (g && (got[g - 1] == ' ' || got[g - 1] == '\t'))
      g--;
    if (!line_matches(want, w, got, g))
      return false;
    want += wn + (want[wn] == '\n');
    got += gn + (got[gn] == '\n');
  }
}

/* @text with every mention of /mnt/@fs replaced by @mnt. */
static char *substitute(const char *text, const char *fs, const char *mnt) {
  size_t pat = strlen("/mnt/") + strlen(fs), cap = strlen(text) + 1;
  for (const char *p = mention(text, text, fs); p; p = mention(text, p + 1, fs))
    cap += strlen(mnt);
  char *out = malloc(cap), *o = out;
  assert_non_null(out);
  for (const char *p = text; *p;) {
    const char *m = mention(text, p, fs);
    size_t k = m ? (size_t)(m - p) : strlen(p);
    memcpy(o, p, k);
    o += k;
    p += k;
    if (m) {
      o += sprintf(o, "%s", mnt);
      p += pat;
    }
  }
  *o = '\0';
  return out;
}

/* ---- the fresh-clone directory ------------------------------------------- */

static void copy_file(const char *from, const char *to) {
  size_t len = 0;
  char *buf = bs_cli_slurp(from, &len);
  FILE *f = fopen(to, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(buf, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
  free(buf);
}

/* Put top-level entry @name of the source tree @src into @clone: a file is
 * copied (a fresh clone has its own), a directory linked. */
static void clone_entry(const char *src, const char *clone, const char *name) {
  char from[PATH_MAX + 256], to[PATH_MAX + 256];
  snprintf(from, sizeof(from), "%s/%s", src, name);
  snprintf(to, sizeof(to), "%s/%s", clone, name);
  struct stat st;
  if (lstat(to, &st) == 0 || lstat(from, &st) != 0)
    return;
  if (S_ISDIR(st.st_mode))
    assert_int_equal(symlink(from, to), 0);
  else if (S_ISREG(st.st_mode))
    copy_file(from, to);
}

/* The tree a fresh clone has (what git tracks; without git, everything but
 * build/), then build/bslab. */
static void make_clone(const char *clone) {
  char src[PATH_MAX], bslab[PATH_MAX], path[PATH_MAX + 32];
  assert_non_null(getcwd(src, sizeof(src)));
  assert_int_equal(mkdir(clone, 0755), 0);
  size_t entries = 0;
  FILE *git = popen("git ls-files 2>/dev/null", "r");
  char line[PATH_MAX];
  while (git && fgets(line, sizeof(line), git)) {
    line[strcspn(line, "/\n")] = '\0';
    if (line[0]) {
      clone_entry(src, clone, line);
      entries++;
    }
  }
  if (git)
    pclose(git);
  if (entries == 0) { /* not a git checkout: a release tarball */
    DIR *d = opendir(src);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
      if (e->d_name[0] != '.' && strcmp(e->d_name, "build") != 0)
        clone_entry(src, clone, e->d_name);
    closedir(d);
  }
  snprintf(path, sizeof(path), "%s/build", clone);
  assert_int_equal(mkdir(path, 0755), 0);
  if (!realpath(bs_test_bslab(), bslab))
    fail_msg("no bslab at %s: run make first", bs_test_bslab());
  snprintf(path, sizeof(path), "%s/build/bslab", clone);
  assert_int_equal(symlink(bslab, path), 0);
}

/* ---- running it ------------------------------------------------------------ */

/* What /mnt/sim is in the tour: a directory below the suite's temp dir. */
static char sim_mp[300];

/* Detach a bslab mount left at sim_mp (its server then ends); true if there
 * was one. */
static bool detach_sim(void) {
  if (!sim_mp[0] || !bs_cli_fuse_mounted(sim_mp))
    return false;
  if (umount2(sim_mp, MNT_DETACH) != 0) {
    char cmd[400], out[256];
    snprintf(cmd, sizeof(cmd), "fusermount3 -u -z '%s'", sim_mp);
    bs_cli_shell(cmd, out, sizeof(out));
  }
  return true;
}

/* Run shell script @script in @dir, its output (stdout and stderr) into
 * @out; fails the test past TOUR_SECONDS. */
static void run_script(const char *dir, const char *script, const char *out) {
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    setpgid(0, 0);
    int i = open("/dev/null", O_RDONLY), o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (i < 0 || o < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 || dup2(o, 2) < 0 || chdir(dir) != 0)
      _exit(126);
    /* A fresh shell of a new user: none of the test's own settings. */
    unsetenv("BSLAB_IMAGE");
    unsetenv("BSLAB_TRACE_DIR");
    execl("/bin/sh", "sh", script, (char *)NULL);
    _exit(127);
  }
  int ws = 0;
  for (int ms = 0;; ms += 20) {
    pid_t got = waitpid(pid, &ws, WNOHANG);
    assert_true(got >= 0);
    if (got == pid)
      break;
    if (ms > TOUR_SECONDS * 1000) {
      kill(-pid, SIGKILL);
      waitpid(pid, &ws, 0);
      fail_msg("the README tour took longer than %d s (output in %s)", TOUR_SECONDS, out);
    }
    nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
  }
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) >= 126)
    fail_msg("the README tour's shell did not run to its end (status 0x%x)", (unsigned)ws);
}

/* The output of command @k in the tour's output @all, and its status. */
static char *command_output(const char *all, size_t k, int *status) {
  char begin[32], endm[32];
  snprintf(begin, sizeof(begin), "\036B %zu\n", k);
  snprintf(endm, sizeof(endm), "\036E %zu ", k);
  const char *b = strstr(all, begin);
  const char *e = b ? strstr(b, endm) : NULL;
  if (!b || !e || sscanf(e + strlen(endm), "%d", status) != 1)
    return NULL;
  b += strlen(begin);
  return strndup(b, (size_t)(e - b));
}

static void readme_tour_runs_as_written(void **state) {
  (void)state;
  size_t len = 0;
  char *md = bs_cli_slurp("README.md", &len);
  tour t;
  tour_parse(&t, md);
  free(md);

  const bs_vol *vols[4] = {NULL};
  const char *no_volumes = NULL;
  char clone[256], script[300], out[300];
  snprintf(clone, sizeof(clone), "%s/clone", bs_cli_tmp());
  snprintf(script, sizeof(script), "%s/tour.sh", bs_cli_tmp());
  snprintf(out, sizeof(out), "%s/tour.out", bs_cli_tmp());
  make_clone(clone);

  FILE *sh = fopen(script, "w");
  assert_non_null(sh);
  size_t ran = 0, makes = 0, on_volumes = 0, skipped = 0, transcripts = 0;
  size_t on_mount = 0, skipped_mount = 0;
  const char *no_fuse = NULL;
  snprintf(sim_mp, sizeof(sim_mp), "%s/sim", bs_cli_tmp());
  assert_int_equal(mkdir(sim_mp, 0755), 0);
  for (size_t k = 0; k < t.n; k++) {
    tour_cmd *c = &t.v[k];
    if (c->make) {
      makes++;
      continue;
    }
    char *text = strdup(c->text);
    assert_non_null(text);
    for (int f = 0; f < 4 && !no_volumes; f++) {
      if (!mention(c->text, c->text, volume_fs[f]))
        continue;
      if (!vols[f] && !(no_volumes = bs_test_real_unavailable()) &&
          !(vols[f] = bs_vol_shared(volume_fs[f])))
        fail_msg("a %s volume for README line %d: %s", volume_fs[f], c->line, bs_vol_last_error());
      if (no_volumes)
        break;
      char *s = substitute(text, volume_fs[f], vols[f]->mnt);
      free(text);
      text = s;
    }
    if (c->fs == RAMDISK_CMD && !no_volumes)
      no_volumes = bs_test_real_unavailable();
    if (c->fs == MOUNT_CMD && !no_fuse)
      no_fuse = bs_cli_fuse_unavailable();
    c->skipped = c->fs == MOUNT_CMD ? no_fuse != NULL : c->fs >= 0 && no_volumes;
    if (c->skipped) {
      skipped += c->fs != MOUNT_CMD;
      skipped_mount += c->fs == MOUNT_CMD;
      free(text);
      continue;
    }
    if (c->fs == MOUNT_CMD) {
      char *s = substitute(text, "sim", sim_mp);
      free(text);
      text = s;
      on_mount++;
    }
    on_volumes += c->fs >= 0 && c->fs != RAMDISK_CMD && c->fs != MOUNT_CMD;
    transcripts += c->output != NULL;
    fprintf(sh, "printf '\\036B %zu\\n'\n%s\nprintf '\\036E %zu %%d\\n' \"$?\"\n", k, text, k);
    free(text);
    ran++;
  }
  assert_int_equal(fclose(sh), 0);
  /* The README has a tour: commands, transcripts, failures shown, volumes. */
  if (ran < 10 || transcripts < 5)
    fail_msg("README.md: only %zu commands (%zu in transcripts) found in its ```sh blocks", ran,
             transcripts);

  run_script(clone, script, out);
  if (detach_sim())
    fail_msg("the README tour left /mnt/sim (%s) mounted: it must unmount what it mounts",
             sim_mp);
  char *all = bs_cli_slurp(out, NULL);
  for (size_t k = 0; k < t.n; k++) {
    tour_cmd *c = &t.v[k];
    int status = -1;
    if (c->make || c->skipped)
      continue;
    char *got = command_output(all, k, &status);
    if (!got)
      fail_msg("README.md:%d: `%s` did not finish (the tour stopped before it)\n%s", c->line, c->text,
               all);
    if (status != c->expect)
      fail_msg("README.md:%d: `%s` exited %d, the README says %d; it printed:\n%s", c->line, c->text,
               status, c->expect, got);
    if (c->output && !output_matches(c->output, got))
      fail_msg("README.md:%d: `%s` printed:\n%s\nthe README shows:\n%s", c->line, c->text, got,
               c->output);
    free(got);
  }
  free(all);
  print_message("    README.md: %zu commands run in order (%zu on real volumes, %zu on a bslab "
                "mount, %zu with their output checked); %zu make targets not run\n",
                ran, on_volumes, on_mount, transcripts, makes);
  tour_free(&t);
  if (skipped)
    print_message("    [ skipped  ] %zu README commands on /mnt/<fs> volumes: %s\n", skipped, no_volumes);
  if (skipped_mount)
    print_message("    [ skipped  ] %zu README commands on the bslab mount /mnt/sim: FUSE: %s\n",
                  skipped_mount, no_fuse);
  if (skipped || skipped_mount)
    skip();
}

/* The rules above, on a README of our own: they are what the tour test
 * relies on to be worth anything. */
static void readme_rules_read_commands_statuses_and_transcripts(void **state) {
  (void)state;
  const char *md = "text\n"
                   "```sh\n"
                   "make run     # build\n"
                   "             # a comment line\n"
                   "build/bslab x --a \\\n"
                   "  --b       # exit 1: fails\n"
                   "echo '# exit 3' # not exit 2\n"
                   "cp a /mnt/btrfs/a && ls /mnt/btrfsx\n"
                   "```\n"
                   "```c\n"
                   "not(run);\n"
                   "```\n"
                   "```sh\n"
                   "$ echo hi; echo $?\n"
                   "hi ... there\n"
                   "0\n"
                   "$ true\n"
                   "```\n";
  tour t;
  tour_parse(&t, md);
  assert_int_equal(t.n, 6);
  assert_true(t.v[0].make);
  assert_string_equal(t.v[1].text, "build/bslab x --a \\\n  --b       # exit 1: fails");
  assert_int_equal(t.v[1].line, 5);
  assert_int_equal(t.v[1].expect, 1);
  assert_false(t.v[1].make);
  assert_int_equal(t.v[2].expect, 0); /* the quoted "# exit 3" is not a comment */
  assert_int_equal(t.v[3].fs, 0);     /* btrfs */
  char *s = substitute(t.v[3].text, "btrfs", "/v/m");
  assert_string_equal(s, "cp a /v/m/a && ls /mnt/btrfsx"); /* the volume's paths only */
  free(s);
  assert_null(t.v[1].output);
  assert_string_equal(t.v[4].text, "echo hi; echo $?");
  assert_string_equal(t.v[4].output, "hi ... there\n0\n");
  assert_true(output_matches(t.v[4].output, "hi and then there\n0\n"));
  assert_true(output_matches(t.v[4].output, "hi  there  \n0"));
  assert_false(output_matches(t.v[4].output, "hi there\n0\n")); /* the blanks stay */
  assert_false(output_matches(t.v[4].output, "hi x there\n1\n"));
  assert_false(output_matches(t.v[4].output, "hi x there\n0\nmore\n"));
  assert_string_equal(t.v[5].output, "");
  assert_true(output_matches(t.v[5].output, ""));
  assert_false(output_matches(t.v[5].output, "noise\n"));
  tour_free(&t);

  /* A block that names /mnt/sim needs FUSE, all of it; the next one does not. */
  tour_parse(&t, "```sh\nbslab mount x /mnt/sim\nbslab cat --image x /f\n```\n"
                 "```sh\nls /mnt/simple\n```\n");
  assert_int_equal(t.n, 3);
  assert_int_equal(t.v[0].fs, MOUNT_CMD);
  assert_int_equal(t.v[1].fs, MOUNT_CMD);
  assert_int_equal(t.v[2].fs, -1);
  tour_free(&t);
}

static int setup(void **state) {
  (void)state;
  return bs_cli_setup("readme");
}

static int teardown(void **state) {
  (void)state;
  detach_sim();
  return bs_cli_teardown();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(readme_rules_read_commands_statuses_and_transcripts),
      cmocka_unit_test(readme_tour_runs_as_written),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
