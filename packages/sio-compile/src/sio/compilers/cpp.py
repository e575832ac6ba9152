"""C++ with GCC: ``system-cpp``/``system-cc``/``system-g++`` (host) and
``cpp``/``cc``/``g++`` (the ``compiler-gcc.<version>`` sandbox).

Command: ``g++ -std=c++20 -static -O2 -s -o a.e EXTRA... a.cpp SOURCES... -lm``.
"""

from __future__ import annotations

from sio.compilers.c import GccCompiler
from sio.compilers.sandboxed import SandboxedMixin


class SystemCpp(GccCompiler):
    """``system-cpp``: the host's ``g++``."""

    language = "cpp"
    aliases = ("cc", "c++", "cxx")
    extension = "cpp"
    binary = "g++"
    options = ("-std=c++20", "-static", "-O2", "-s")
    hello_source = ('#include <iostream>\n'
                    'int main() { std::cout << "Hello World" << std::endl; }\n')


class SandboxedCpp(SandboxedMixin, SystemCpp):
    """``cpp``/``cc``/``g++``: ``g++`` from the ``compiler-gcc.<version>`` sandbox."""

    sandbox_name = "gcc"
