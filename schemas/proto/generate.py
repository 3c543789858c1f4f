#!/usr/bin/env python3
"""Writes kubernetes.fields, the field table orca's protobuf decoder reads, from Kubernetes'
generated.proto files (k8s.io/api and k8s.io/apimachinery).

Usage: generate.py FILE.proto... > kubernetes.fields

Each message is a line `message PACKAGE.NAME`, followed by one line per field:
`NUMBER NAME LABEL TYPE` where LABEL is o (optional), r (repeated) or m (map; TYPE is KEY,VALUE),
and TYPE is a scalar (string, bytes, bool, int32, int64, double...) or a message's full name.
"""
import re
import sys

SCALARS = {"string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "double", "float", "sint32", "sint64", "fixed32", "fixed64"}


def resolve(t, package):
    t = t.strip()
    if t in SCALARS:
        return t
    if t.startswith("."):
        return t[1:]
    return f"{package}.{t}"


def main():
    out = []
    for path in sys.argv[1:]:
        text = open(path).read()
        package = re.search(r"^package ([\w.]+);", text, re.M).group(1)
        for m in re.finditer(r"^message (\w+) \{(.*?)^\}", text, re.M | re.S):
            out.append(f"message {package}.{m.group(1)}")
            for line in m.group(2).splitlines():
                line = line.strip()
                f = re.match(r"(optional|repeated)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+);", line)
                if f:
                    label = "o" if f.group(1) == "optional" else "r"
                    out.append(f"{f.group(4)} {f.group(3)} {label} {resolve(f.group(2), package)}")
                    continue
                f = re.match(r"map<\s*([\w.]+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+);", line)
                if f:
                    out.append(f"{f.group(4)} {f.group(3)} m {resolve(f.group(1), package)},{resolve(f.group(2), package)}")
    print("\n".join(out))


main()
