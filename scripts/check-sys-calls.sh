#!/usr/bin/env bash
# Every OS call of real/ goes through real/sys.c, where each has its libfiu
# fault point (docs/architecture.md, docs/real.md).  This check fails when a
# file of real/ other than sys.c calls an OS filesystem function directly.
#
#   scripts/check-sys-calls.sh [DIR]     scan DIR (default: real/ of this tree)
#   scripts/check-sys-calls.sh --self-test
#                                        plant direct calls in a copy of real/
#                                        and check that each is reported
#
# Exempt files:
#   real/sys.c             the wrappers themselves
#   real/darwin_libc.c,    the macOS libc seam: bs_darwin_sys is an overridable
#   real/darwin_libc_snap.c  syscall table (SQLite's aSyscall[] form, STYLE 3)
#                          of one libc call per entry, which the Linux tests
#                          replace with a fake; built on macOS only
# Calls that are not OS filesystem calls, and so not in the list below:
#   close(2), closedir(3), dup(2), dirfd(3)   the descriptor table
#   getcwd(3), geteuid(2), getpid(2)          process state
#   clock_gettime(2), nanosleep(2)            the clock
#   getentropy(3)                             randomness
#   malloc(3) and the rest of memory and strings
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)

# Direct calls that must go through sys.c: what real/ uses, and their kin.
CALLS=(
  open openat openat2 creat close_range
  stat fstat lstat fstatat statx statfs fstatfs statvfs fstatvfs
  access faccessat faccessat2 euidaccess eaccess realpath pathconf fpathconf
  mkdir mkdirat mkfifo mkfifoat mknod mknodat
  unlink unlinkat rmdir remove rename renameat renameat2 link linkat
  symlink symlinkat readlink readlinkat
  opendir fdopendir readdir readdir_r rewinddir seekdir telldir scandir scandirat nftw ftw
  read write pread pwrite readv writev preadv pwritev lseek
  truncate ftruncate fallocate posix_fallocate copy_file_range sendfile splice mmap
  fsync fdatasync sync syncfs
  chmod fchmod fchmodat lchmod chown fchown lchown fchownat
  utime utimes futimes lutimes futimens utimensat
  setxattr lsetxattr fsetxattr getxattr lgetxattr fgetxattr
  listxattr llistxattr flistxattr removexattr lremovexattr fremovexattr
  ioctl fcntl flock lockf
  fopen fdopen freopen tmpfile mkstemp mkdtemp
  mount umount umount2 unmount chdir fchdir chroot syscall
  getattrlist fgetattrlist setattrlist getattrlistbulk
  clonefile clonefileat fclonefileat copyfile fcopyfile
  fs_snapshot_create fs_snapshot_delete fs_snapshot_list fs_snapshot_mount fs_snapshot_rename
  popen system fork vfork posix_spawn posix_spawnp execv execve execvp execl execlp
)
EXEMPT="sys.c darwin_libc.c darwin_libc_snap.c"

# scan DIR: print "FILE:LINE: NAME(" for each direct call; exit 1 if any.
scan() {
  local dir=$1
  local files=()
  for f in "$dir"/*.c "$dir"/*.h; do
    [ -e "$f" ] || continue
    case " $EXEMPT " in *" $(basename "$f") "*) continue ;; esac
    files+=("$f")
  done
  CALLS="${CALLS[*]}" perl -e '
    my %bad = map { $_ => 1 } split " ", $ENV{CALLS};
    my $found = 0;
    for my $file (@ARGV) {
      open my $fh, "<", $file or die "$file: $!\n";
      local $/;
      my $src = <$fh>;
      # Comments, strings and character constants become blanks (lines kept).
      $src =~ s{(/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\x27(?:\\.|[^\x27\\\n])*\x27)}
               { (my $k = $1) =~ s/[^\n]/ /g; $k }gse;
      my $line = 0;
      for (split /\n/, $src, -1) {
        $line++;
        next if /^\s*#\s*include/;
        # A call: the name not preceded by a word character, "." or "->".
        while (/(?<![\w.>])([A-Za-z_]\w*)\s*\(/g) {
          next unless $bad{$1};
          print "$file:$line: $1(\n";
          $found++;
        }
      }
    }
    exit($found ? 1 : 0);
  ' "${files[@]}"
}

self_test() {
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  cp "$here"/real/*.c "$here"/real/*.h "$tmp"/
  if ! scan "$tmp" >/dev/null; then
    echo "check-sys-calls: self-test: the unplanted copy of real/ does not pass" >&2
    return 1
  fi
  # Planted: two direct calls, and look-alikes that are not calls of the OS
  # (a comment, a string, a member, a wrapper, a file that may call it).
  cat >>"$tmp/posix.c" <<'EOF'
static int planted(int fd, const bs_host_os *os) {
  struct stat sb; /* fstat(fd, &sb) in a comment */
  const char *s = "ioctl(fd, FICLONE, 0)";
  (void)s;
  (void)os->stat;
  if (bs__sys_fstat(fd, &sb) != 0)
    return -1;
  return fstat(fd, &sb);
}
EOF
  echo 'static void planted_sys(void) { sync(); }' >>"$tmp/sys.c"
  local out want
  out=$(scan "$tmp") && {
    echo "check-sys-calls: self-test: planted direct calls were not reported" >&2
    return 1
  }
  want=$(wc -l <"$here/real/posix.c")
  want="$tmp/posix.c:$((want + 8)): fstat("
  if [ "$out" != "$want" ]; then
    echo "check-sys-calls: self-test: expected exactly \"$want\", got:" >&2
    echo "$out" >&2
    return 1
  fi
  echo "check-sys-calls: self-test: a planted direct fstat() in real/posix.c is reported"
}

if [ "${1:-}" = --self-test ]; then
  self_test
  exit
fi
dir=${1:-$here/real}
if ! out=$(scan "$dir"); then
  echo "check-sys-calls: OS calls in real/ outside real/sys.c (call them through a bs__sys_* wrapper" >&2
  echo "with its fault point, real/sys.h; docs/architecture.md):" >&2
  echo "$out" | sed "s|^$here/||; s/^/  /" >&2
  exit 1
fi
echo "check-sys-calls: every OS call of real/ goes through real/sys.c"
