"""Where the bytes of a release binary go: its symbols (nm -S -C) summed by crate, and Logbook's
own by module. Run by scripts/size-report on an unstripped build; names that start with a
generic parameter (`<F as …>`, closures) count under that letter."""
import collections, re, subprocess, sys
binary = sys.argv[1]
out = subprocess.run(["nm", "-S", "--size-sort", "-C", binary], capture_output=True, text=True).stdout
crates = collections.Counter(); modules = collections.Counter(); total = 0
for line in out.splitlines():
    parts = line.split(None, 3)
    if len(parts) < 4 or parts[2].lower() not in ("t", "r", "d", "b", "w", "v"):
        continue
    size = int(parts[1], 16); name = parts[3]; total += size
    n = name
    # "<T as Trait>::f" and "<impl Foo for Bar>": take the first path inside.
    n = re.sub(r"^<+", "", n)
    n = re.sub(r"^(impl |dyn |&mut |&)+", "", n)
    crate = re.split(r"::|<| as |\s", n, maxsplit=1)[0] or "?"
    crates[crate] += size
    if crate == "logbook":
        m = re.match(r"logbook::(modules::)?([a-z_0-9]+)", n)
        if m:
            modules[(m.group(1) or "") + m.group(2)] += size
print(f"symbols: {total/1048576:.1f} MiB")
for c, s in crates.most_common(25):
    print(f"  {s/1048576:6.2f} MiB  {c}")
print("logbook by module:")
for c, s in modules.most_common(30):
    print(f"  {s/1048576:6.2f} MiB  {c}")
