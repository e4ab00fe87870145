#!/usr/bin/env python3
"""Section and symbol sizes of a 32-bit little-endian ELF (no tools needed).

    elfsize.py sections ELF         -> "name size flags" per allocated section
    elfsize.py symbol ELF NAME      -> size of the symbol NAME (exact match)
    elfsize.py match ELF REGEX      -> total size of symbols whose name matches
    elfsize.py top ELF N            -> the N largest code/data symbols
    elfsize.py value ELF NAME       -> the u32 stored at the symbol NAME
    elfsize.py modules ELF          -> code bytes per source module, from the
                                       DWARF line table (needs llvm-dwarfdump)
"""
import re
import shutil
import struct
import subprocess
import sys
from collections import defaultdict

SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
SHT_SYMTAB, SHT_NOBITS = 2, 8


def load(path):
    data = open(path, "rb").read()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        sys.exit(f"{path}: not a 32-bit little-endian ELF")
    shoff, = struct.unpack_from("<I", data, 0x20)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
    sections = []
    for i in range(shnum):
        fields = struct.unpack_from("<IIIIIIIIII", data, shoff + i * shentsize)
        sections.append(fields)
    strtab = sections[shstrndx]

    def cstr(off):
        return data[off:data.index(b"\0", off)].decode("utf-8", "replace")

    named = []
    for s in sections:
        name_off, typ, flags, addr, off, size, link, info, align, entsize = s
        named.append(dict(name=cstr(strtab[4] + name_off), type=typ, flags=flags,
                          addr=addr, offset=off, size=size, link=link, entsize=entsize))
    return data, named, cstr


def symbols(data, sections, cstr):
    for s in sections:
        if s["type"] != SHT_SYMTAB:
            continue
        names = sections[s["link"]]["offset"]
        for i in range(s["size"] // s["entsize"]):
            name, value, size, info, other, shndx = struct.unpack_from(
                "<IIIBBH", data, s["offset"] + i * s["entsize"])
            if size and info & 0xF in (1, 2):  # OBJECT, FUNC
                yield cstr(names + name), size, shndx


def demangle(name):
    """Readable enough for Rust symbols: legacy (_ZN...17h<hash>E) and simple
    v0 paths (_RNvNtCs<hash>_5crate3mod4item)."""
    if name.startswith("_R"):
        m = re.search(r"C(?:s[0-9A-Za-z]*_)?(\d.*)$", name)
        if not m:
            return name
        parts, rest = [], m.group(1)
        while (d := re.match(r"(\d+)_?", rest)) and int(d.group(1)) <= len(rest) - d.end():
            parts.append(rest[d.end():d.end() + int(d.group(1))])
            rest = rest[d.end() + int(d.group(1)):]
        return "::".join(parts) if parts and not rest else name
    if not name.startswith("_ZN"):
        return name
    parts, i = [], 3
    while i < len(name) and name[i].isdigit():
        j = i
        while name[j].isdigit():
            j += 1
        n = int(name[i:j])
        parts.append(name[j:j + n])
        i = j + n
    if parts and parts[-1].startswith("h") and len(parts[-1]) == 17:
        parts.pop()
    out = "::".join(parts)
    for a, b in (("$LT$", "<"), ("$GT$", ">"), ("$u20$", " "), ("$RF$", "&"),
                 ("$C$", ","), ("$u7b$", "{"), ("$u7d$", "}"), ("..", "::"),
                 ("$BP$", "*"), ("$u5b$", "["), ("$u5d$", "]"), ("$u3b$", ";")):
        out = out.replace(a, b)
    return out


def symbol_addr(data, sections, cstr, wanted):
    for s in sections:
        if s["type"] != SHT_SYMTAB:
            continue
        names = sections[s["link"]]["offset"]
        for i in range(s["size"] // s["entsize"]):
            name, value, size, info, other, shndx = struct.unpack_from(
                "<IIIBBH", data, s["offset"] + i * s["entsize"])
            if cstr(names + name) == wanted and shndx < len(sections):
                return value, sections[shndx]
    return None, None


def module_of(path):
    """A readable module name for a source path from the line table."""
    p = path.replace("\\", "/")
    m = re.search(r"/runtime/src/(.*)$", p)
    if m:
        parts = m.group(1)[:-3].split("/")  # strip .rs
        if parts[:2] == ["nic", "lan9118"]:
            return "emberstack::nic::lan9118 (driver)"
        top = parts[0] if parts[0] not in ("lib", "mod") else "(root)"
        return "emberstack::" + top
    if "/out/emberstack_" in p or re.search(r"/build/[^/]+/out/", p):
        return "generated config"
    if "/examples/app/" in p:
        return "app (ember_device)"
    # The demo application's own dependencies (its CSPRNG): application
    # code, not the stack's, though no path of ours holds it.
    if re.search(r"/(chacha20|rand_core|cipher|zeroize)-[0-9.]+/", p):
        return "app's crates (chacha20, rand_core)"
    m = re.search(r"/smoltcp-[0-9.]+/src/([^/.]+)", p)
    if m:
        return "smoltcp::" + m.group(1)
    if re.search(r"/(heapless|managed|hash32|byteorder)-[0-9.]+/", p):
        return "smoltcp deps (heapless, managed...)"
    if re.search(r"/(cortex-m[a-z-]*|vcell|volatile-register|bare-metal|critical-section)-[0-9.]+/", p):
        return "cortex-m, -rt, -semihosting"
    if "compiler_builtins" in p or "compiler-builtins" in p:
        return "compiler_builtins"
    m = re.search(r"library/core/src/([^/.]+)", p)
    if m:
        return "core::fmt" if m.group(1) == "fmt" else "core (other)"
    if p.endswith("src/main.rs") or p == "main.rs":
        return "firmware main (board, options)"
    return "other"


def code_ranges(sections):
    """(start, end) of the allocated executable sections: the code in flash."""
    return [(s["addr"], s["addr"] + s["size"]) for s in sections
            if s["flags"] & SHF_ALLOC and s["flags"] & SHF_EXECINSTR and s["size"]]


def modules(path, sections):
    tool = shutil.which("llvm-dwarfdump") or next(
        (shutil.which(f"llvm-dwarfdump-{v}") for v in range(20, 13, -1)
         if shutil.which(f"llvm-dwarfdump-{v}")), None)
    if not tool:
        sys.exit("llvm-dwarfdump not found (apt-get install -y llvm)")
    out = subprocess.run([tool, "--debug-line", path], capture_output=True,
                         text=True, check=True).stdout
    # (address, bytes, file) per line-table row.
    segments = []
    dirs, files, rows = {}, {}, []
    comp_dir = ""
    cur_file = None

    code = code_ranges(sections)

    def in_code(a, b):
        # Sequences of functions the linker discarded keep their rows at
        # address 0 (or wherever they were before): only rows inside the
        # executable sections describe code that is in the image.
        return any(lo <= a and b <= hi for lo, hi in code)

    def flush():
        rows.sort(key=lambda r: r[0])
        for (a, f, end), (b, _, _) in zip(rows, rows[1:]):
            if not end and b > a and in_code(a, b):
                segments.append((a, b - a, files.get(f, "?")))
        rows.clear()

    row_re = re.compile(r"^0x([0-9a-f]+)\s+\d+\s+\d+\s+(\d+)\s")
    for line in out.splitlines():
        line = line.rstrip()
        if line.startswith("debug_line["):
            flush()
            dirs, files = {0: comp_dir}, {}
            continue
        m = re.match(r'\s*include_directories\[\s*(\d+)\] = "(.*)"', line)
        if m:
            dirs[int(m.group(1))] = m.group(2)
            continue
        m = re.match(r"file_names\[\s*(\d+)\]:", line)
        if m:
            cur_file = int(m.group(1))
            continue
        m = re.match(r'\s*name: "(.*)"', line)
        if m and cur_file is not None:
            files[cur_file] = m.group(1)
            continue
        m = re.match(r"\s*dir_index: (\d+)", line)
        if m and cur_file is not None:
            d = dirs.get(int(m.group(1)), "")
            name = files[cur_file]
            if not name.startswith("/") and d:
                files[cur_file] = d.rstrip("/") + "/" + name
            cur_file = None
            continue
        m = row_re.match(line)
        if m:
            end = line.endswith("end_sequence")
            rows.append((int(m.group(1), 16), int(m.group(2)), end))
            if end:
                flush()
    flush()

    # Sequences may overlap (one address described by two compile units
    # after LTO): count each byte once, for the first row that covers it.
    segments.sort(key=lambda seg: seg[0])
    clipped, reach = [], 0
    for a, n, f in segments:
        start = max(a, reach)
        if a + n > start:
            clipped.append((start, a + n - start, f))
            reach = a + n
    segments[:] = clipped

    # Code inlined from core (slices, iterators, Option) belongs to the
    # function it was inlined into: with llvm-symbolizer, walk each
    # address's inline chain outwards to the first frame in a module of
    # our own (or a dependency other than core/compiler_builtins).
    generic = ("core (other)", "core::fmt", "compiler_builtins", "other")
    owner = {}
    sym = shutil.which("llvm-symbolizer")
    if sym:
        addrs = sorted({a for a, _, f in segments if module_of(f) in generic})
        text = subprocess.run(
            [sym, f"--obj={path}", "--inlining", "--functions=none"],
            input="".join(f"0x{a:x}\n" for a in addrs), capture_output=True,
            text=True, check=True).stdout
        for a, block in zip(addrs, text.split("\n\n")):
            frames = [l.rsplit(":", 2)[0] for l in block.splitlines() if l.strip()]
            mods = [module_of(f) for f in frames]
            owner[a] = next((m for m in mods if m not in generic), None)
    sizes = defaultdict(int)
    for a, n, f in segments:
        m = module_of(f)
        if m in generic and owner.get(a):
            m = owner[a]
        sizes[m] += n
    # Code without line rows (padding, veneers, the vector table, assembly
    # of compiler_builtins without debug info) makes the total add up to
    # the executable sections.
    text = sum(hi - lo for lo, hi in code)
    sizes["(no line information)"] += max(text - sum(sizes.values()), 0)
    total = sum(sizes.values())
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"{size:8d}  {100.0 * size / max(total, 1):5.1f}%  {name}")
    how = "inlined core code counted in its caller" if sym else "innermost source file"
    print(f"{total:8d}  100.0%  executable sections (rows outside them ignored; {how})")


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    data, sections, cstr = load(path)
    if cmd == "sections":
        for s in sections:
            if s["flags"] & SHF_ALLOC:
                kind = "w" if s["flags"] & SHF_WRITE else "r"
                kind += "x" if s["flags"] & SHF_EXECINSTR else ""
                kind += " nobits" if s["type"] == SHT_NOBITS else ""
                print(s["name"], s["size"], kind)
    elif cmd == "symbol":
        print(sum(size for name, size, _ in symbols(data, sections, cstr)
                  if name == sys.argv[3]))
    elif cmd == "match":
        print(sum(size for name, size, _ in symbols(data, sections, cstr)
                  if re.search(sys.argv[3], name)))
    elif cmd == "value":
        addr, sec = symbol_addr(data, sections, cstr, sys.argv[3])
        if addr is None or sec["type"] == SHT_NOBITS:
            print(0)
        else:
            print(struct.unpack_from("<I", data, sec["offset"] + addr - sec["addr"])[0])
    elif cmd == "modules":
        modules(path, sections)
    elif cmd == "top":
        syms = sorted(set(symbols(data, sections, cstr)), key=lambda s: -s[1])
        for name, size, shndx in syms[:int(sys.argv[3])]:
            sec = sections[shndx]["name"] if shndx < len(sections) else "?"
            print(f"{size:8d}  {sec:<14} {demangle(name)}")
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
