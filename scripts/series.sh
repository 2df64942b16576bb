#!/usr/bin/env bash
# Write the series as it would be posted: patches/ with the files the series
# adds whole (TREE_FILES in lib.sh: the module from src/, its Rust
# abstractions, the hook header, the documentation) folded into the patch
# that adds them, and docs/cover-letter.txt as patch 0, into build/series/;
# the fixes that go to net on their own (patches/net/) into
# build/series/net/. Runs checkpatch --strict on every patch.
#
#   scripts/series.sh          write and check (a few seconds)
#   scripts/series.sh --build  also build the kernel after every patch, in
#                              a tree of its own (a copy of the normal one)
set -euo pipefail
LOG_TAG=series
. "$(dirname "$0")/lib.sh"

build_each=0
[ "${1:-}" = --build ] && build_each=1
TARBALL=/usr/src/linux-source-6.12.tar.xz
OUT=$BUILD/series
REPO=$BUILD/series-git
CHECKPATCH=$CACHE/linux-6.12/scripts/checkpatch.pl
[ -x "$CHECKPATCH" ] || die "no checkpatch.pl in $CACHE/linux-6.12: run scripts/kernel.sh first"
[ -f "$TARBALL" ] || die "$TARBALL missing: run scripts/deps.sh"

# The files the series touches, from the tarball, as the base commit.
shopt -s nullglob
net_fixes=("$TOP"/patches/net/*.patch)
shopt -u nullglob
mapfile -t touched < <(sed -n 's|^diff --git a/\(.*\) b/.*|\1|p' "$TOP"/patches/*.patch "${net_fixes[@]}" | sort -u)
rm -rf "$REPO" "$OUT"
mkdir -p "$REPO" "$OUT"
tar -C "$REPO" -xJf "$TARBALL" --strip-components=1 \
	--wildcards $(printf 'linux-source-6.12/%s ' "${touched[@]}") 2>/dev/null || true
git -C "$REPO" init -q
git -C "$REPO" add -A
git -C "$REPO" -c user.name=base -c user.email=base@localhost commit -q -m "Linux 6.12 (Debian linux-source-6.12)"
base=$(git -C "$REPO" rev-parse HEAD)

# Each patch, then the whole files it adds.
for p in "$TOP"/patches/*.patch; do
	git -C "$REPO" am -q --committer-date-is-author-date "$p" || die "$(basename "$p") does not apply"
	name=$(basename "$p")
	added=0
	for entry in "${TREE_FILES[@]}"; do
		IFS=: read -r from to key <<<"$entry"
		[[ $name == *"$key"* ]] || continue
		if [ -d "$TOP/$from" ]; then
			mkdir -p "$REPO/$to"
			cp "$TOP/$from"/* "$REPO/$to/"
		else
			install -D -m 0644 "$TOP/$from" "$REPO/$to"
		fi
		added=1
	done
	if [ $added = 1 ]; then
		git -C "$REPO" add -A
		git -C "$REPO" commit -q --amend --no-edit
	fi
done
# Every whole file found its patch.
for entry in "${TREE_FILES[@]}"; do
	IFS=: read -r from to key <<<"$entry"
	git -C "$REPO" ls-files --error-unmatch "$to" >/dev/null 2>&1 ||
		[ -n "$(git -C "$REPO" ls-files "$to/")" ] ||
		die "$from: no patch matches '$key'"
done

n=$(git -C "$REPO" rev-list --count "$base..HEAD")
git -C "$REPO" format-patch -q --zero-commit --no-signature --subject-prefix="PATCH net-next" \
	--cover-letter -o "$OUT" "$base..HEAD"
# The cover letter: our text, then git's shortlog and diffstat.
cover=$(ls "$OUT"/0000-*.patch)
python3 - "$cover" "$TOP/docs/cover-letter.txt" "$n" <<'EOF'
import sys, re
path, text_path, n = sys.argv[1], sys.argv[2], sys.argv[3]
gen = open(path).read()
head, body = gen.split("\n\n", 1)
summary = body.split("*** BLURB HERE ***\n", 1)[1].strip("\n")
text = open(text_path).read()
subject, rest = text.split("\n", 1)
subject = re.sub(r"00/\w+", f"00/{int(n):02d}", subject.removeprefix("Subject: "))
head = re.sub(r"(?m)^Subject: .*$", lambda m: "Subject: " + subject, head)
rest = rest.replace("SERIES-SHORTLOG", summary)
open(path, "w").write(head + "\n" + rest.lstrip("\n"))
EOF
log "wrote $n patches and the cover letter to ${OUT#"$TOP/"}/"

bad=0
# checkpatch PATCH NAME: checkpatch --strict on PATCH, one line with NAME.
checkpatch() {
	local out
	if ! out=$(cd / && "$CHECKPATCH" --strict --no-tree -q --ignore FILE_PATH_CHANGES,UNKNOWN_COMMIT_ID "$1" 2>&1); then
		echo "$out"
		bad=1
	fi
	printf '  %-72s %5s lines  checkpatch %s\n' "$2" "$(wc -l <"$1")" "$([ -z "$out" ] && echo clean || echo WARN)"
}
for p in "$OUT"/0*.patch; do
	case $p in */0000-*) continue ;; esac
	checkpatch "$p" "$(basename "$p")"
done
# The fixes that go to net on their own (patches/net/): each applies to the
# base without the series, and checkpatch takes it as it is.
git -C "$REPO" checkout -q "$base"
for p in "${net_fixes[@]}"; do
	git -C "$REPO" apply --check "$p" || die "$(basename "$p") does not apply to the base without the series"
	mkdir -p "$OUT/net"
	cp "$p" "$OUT/net/"
	checkpatch "$p" "net/$(basename "$p")"
done
git -C "$REPO" checkout -q -
[ $bad = 0 ] || die "checkpatch --strict complains (above)"
log "checkpatch --strict: every patch clean"

[ $build_each = 1 ] || exit 0

# Build after every patch, in a tree of its own, from the normal one.
TREE=$CACHE/linux-6.12-series
if [ ! -d "$TREE" ]; then
	[ -f "$CACHE/linux-6.12/vmlinux" ] || die "build the normal kernel first (scripts/kernel.sh)"
	log "copying the normal tree to $TREE"
	cp -a "$CACHE/linux-6.12" "$TREE"
fi
cp "$TREE/.config" "$TREE/.config.full" 2>/dev/null || true
# Back to the base: reverse what the tree has, drop the whole files.
for p in $(find "$TREE/.vsock-seqpacket/applied" -maxdepth 1 -name '*.patch' | sort -r); do
	patch -d "$TREE" -p1 -R --quiet <"$p" >/dev/null || die "cannot reverse $(basename "$p") in $TREE; delete it"
	rm -f "$p"
done
for entry in "${TREE_FILES[@]}"; do
	IFS=: read -r from to key <<<"$entry"
	rm -rf "${TREE:?}/$to"
done
i=0
for p in "$OUT"/0*.patch; do
	case $p in */0000-*) continue ;; esac
	i=$((i + 1))
	patch -d "$TREE" -p1 --quiet <"$p" || die "$(basename "$p") does not apply to $TREE"
	cp "$p" "$TREE/.vsock-seqpacket/applied/"
	# The full configuration each time: Kconfig drops the options that
	# earlier patches do not define yet.
	cp "$TREE/.config.full" "$TREE/.config"
	start=$SECONDS
	if ! make -C "$TREE" LLVM=1 RUSTC=/usr/bin/rustc "-j$(($(nproc) + 1))" olddefconfig bzImage modules \
		>"$CACHE/series-build.log" 2>&1; then
		tail -n 30 "$CACHE/series-build.log"
		die "the tree does not build after $(basename "$p")"
	fi
	if grep -E '(warning|error):' "$CACHE/series-build.log" | grep -v '^make' >/dev/null; then
		grep -E -A5 '(warning|error):' "$CACHE/series-build.log" | head -n 30
		die "the build warns after $(basename "$p")"
	fi
	log "builds after patch $i/$n ($(basename "$p")) in $((SECONDS - start))s"
done
log "every patch builds on its own"
