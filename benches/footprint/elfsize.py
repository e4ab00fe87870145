#!/usr/bin/env python3
"""Section and symbol sizes of a 32-bit little-endian ELF (no tools needed).

    elfsize.py sections ELF         -> "name size flags" per allocated section
    elfsize.py symbol ELF NAME      -> size of the symbol NAME (exact match)
    elfsize.py match ELF REGEX      -> total size of symbols whose name matches
    elfsize.py top ELF N            -> the N largest code/data symbols
"""
import re
import struct
import sys

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
    elif cmd == "top":
        syms = sorted(set(symbols(data, sections, cstr)), key=lambda s: -s[1])
        for name, size, shndx in syms[:int(sys.argv[3])]:
            sec = sections[shndx]["name"] if shndx < len(sections) else "?"
            print(f"{size:8d}  {sec:<14} {demangle(name)}")
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
