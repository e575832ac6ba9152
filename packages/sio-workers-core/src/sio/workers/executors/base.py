"""The executor protocol: :class:`BaseExecutor`, :class:`noquote`, :class:`ExecError`.

An executor is a *callable context manager*::

    with UnprotectedExecutor() as ex:
        renv = ex(["./prog", "arg with spaces", noquote(">"), "out.txt"],
                  time_limit=1000, capture_output=True)

:meth:`BaseExecutor.__call__` does the work every executor shares, in this
order:

1. the command is normalised by :func:`normalize_command` (a list keeps its
   elements, each shell-quoted later unless it is a :class:`noquote`; a
   string becomes ``[noquote(string)]``);
2. limits are resolved by :func:`resolve_limits` (``environ`` +
   ``environ_prefix`` win over the keyword arguments; ``None`` = no limit);
3. the environment is built by :func:`build_env` (values stringified,
   ``LC_ALL`` and ``LANGUAGE`` = ``en_US.UTF-8``);
4. the subclass hook :meth:`BaseExecutor._execute` runs the command and
   returns the renv (a dict with at least ``return_code``);
5. a non-zero ``return_code`` raises :class:`ExecError` unless
   ``ignore_errors``, the code is in ``extra_ignore_errors``, or the class
   sets :attr:`BaseExecutor.raise_on_error` to ``False`` (checking executors,
   whose non-zero exit is a verdict, not an error).

Writing an executor: subclass :class:`BaseExecutor`, override
:meth:`~BaseExecutor._execute` (and ``__enter__``/``__exit__`` when entering
must acquire something, calling ``super()``'s). The default ``_execute`` runs
the command through ``/bin/sh -c`` with no isolation (rlimits in the child,
wall-clock limit on the process group, capture without deadlocks), so a
wrapping executor may rewrite the command and call ``super()._execute``.
:func:`shell_join` turns a command list into the shell string.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from sio.workers.environ import get_limit, parse_limit
from sio.workers.executors.command import (
    ExecError,
    describe_return_code,
    noquote,
    normalize_command,
    shell_join,
)
from sio.workers.executors.process import run_command

__all__ = [
    "LIMIT_NAMES",
    "BaseExecutor",
    "ExecError",
    "build_env",
    "normalize_command",
    "noquote",
    "resolve_limits",
    "shell_join",
]

#: the limit keyword arguments that ``environ`` + ``environ_prefix`` can supply
LIMIT_NAMES = ("mem_limit", "time_limit", "real_time_limit", "output_limit")

#: the locale every executed command gets
LOCALE = "en_US.UTF-8"


def resolve_limits(
    limits: Mapping[str, Any],
    environ: Mapping[str, Any] | None = None,
    environ_prefix: str = "",
) -> dict[str, int | None]:
    """Resolve :data:`LIMIT_NAMES` to ``int`` or ``None`` (no limit).

    ``limits`` holds the keyword-argument values. When ``environ`` has the key
    ``environ_prefix + name``, that value wins (``None`` there means "no
    limit" even if a keyword argument gave one). Values are validated by
    :func:`sio.workers.environ.parse_limit`; a bad one raises
    :class:`~sio.workers.environ.LimitError` (a ``ValueError``).
    """
    resolved: dict[str, int | None] = {}
    for name in LIMIT_NAMES:
        value = parse_limit(name, limits.get(name))
        if environ:
            value = get_limit(environ, environ_prefix, name, value)
        resolved[name] = value
    return resolved


def build_env(env: Mapping[Any, Any] | None) -> dict[str, str]:
    """The environment of the command: ``env`` (or a copy of
    :data:`os.environ` when ``None``) with keys and values stringified and
    ``LC_ALL``/``LANGUAGE`` set to ``en_US.UTF-8``."""
    source = os.environ if env is None else env
    result = {str(k): v if isinstance(v, str) else str(v) for k, v in source.items()}
    result["LC_ALL"] = LOCALE
    result["LANGUAGE"] = LOCALE
    return result


class BaseExecutor:
    """Base class of executors: callable context managers running commands.

    Use ``with executor: executor(command, **kwargs)``. Subclasses override
    :meth:`_execute`; see the module documentation.
    """

    #: ``False`` in checking executors: a non-zero exit is a verdict in the
    #: renv, never an :class:`ExecError`.
    raise_on_error: bool = True

    def __enter__(self) -> BaseExecutor:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        return None

    def __call__(
        self,
        command: str | Iterable[Any],
        env: Mapping[Any, Any] | None = None,
        ignore_errors: bool = False,
        extra_ignore_errors: Iterable[int] = (),
        stdin: Any = None,
        stdout: Any = None,
        stderr: Any = None,
        capture_output: bool = False,
        split_lines: bool = False,
        forward_stderr: bool = False,
        output_limit: int | None = None,
        mem_limit: int | None = None,
        time_limit: int | None = None,
        real_time_limit: int | None = None,
        environ: Mapping[str, Any] | None = None,
        environ_prefix: str = "",
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Run ``command``; return the renv.

        ``command``: a list (elements shell-quoted unless :class:`noquote`)
        or a string (run verbatim by ``/bin/sh -c``). ``env``: the
        environment (default: this process's), see :func:`build_env`.
        ``stdin``/``stdout``/``stderr``: file objects (or file descriptors);
        ``None`` = ``/dev/null``. ``capture_output``: the output goes to
        ``renv['stdout']`` as ``bytes`` (a list of ``bytes`` lines, without
        their ``\\n``, with ``split_lines``), at most ``output_limit`` bytes
        of it. ``forward_stderr``: stderr goes where stdout goes. Limits:
        ``mem_limit`` KiB (address space), ``time_limit`` CPU ms,
        ``real_time_limit`` wall ms, ``output_limit`` bytes; with
        ``environ``, ``environ[environ_prefix + name]`` wins when present.
        Other keyword arguments are passed to :meth:`_execute`.

        Raises :class:`ExecError` when the command exits non-zero (unless
        ignored, see the module doc) or cannot be run.
        """
        parts = normalize_command(command)
        limits = resolve_limits(
            {
                "mem_limit": mem_limit,
                "time_limit": time_limit,
                "real_time_limit": real_time_limit,
                "output_limit": output_limit,
            },
            environ,
            environ_prefix,
        )
        extra_ignore = tuple(extra_ignore_errors or ())
        renv = self._execute(
            parts,
            env=build_env(env),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            capture_output=capture_output,
            split_lines=split_lines,
            forward_stderr=forward_stderr,
            ignore_errors=ignore_errors,
            extra_ignore_errors=extra_ignore,
            **limits,
            **kwargs,
        )
        if self._should_raise(renv, ignore_errors, extra_ignore):
            code = renv.get("return_code")
            raise ExecError(
                f"command failed with {describe_return_code(code)}: {shell_join(parts)}",
                command=parts,
                return_code=code,
                renv=renv,
            )
        return renv

    def _should_raise(
        self, renv: Mapping[str, Any], ignore_errors: bool, extra_ignore_errors: tuple[int, ...]
    ) -> bool:
        """Whether ``renv`` is an :class:`ExecError` (overridable)."""
        code = renv.get("return_code")
        return bool(
            self.raise_on_error
            and not ignore_errors
            and code
            and code not in extra_ignore_errors
        )

    def _execute(self, command: list[str] | str, **options: Any) -> dict[str, Any]:
        """The hook: run ``command`` and return the renv.

        ``command`` is the normalised list (:func:`shell_join` makes the shell
        string) or, when a subclass passes it so, a ready shell string.
        ``options``: ``env`` (``dict[str, str]``, final), ``stdin``,
        ``stdout``, ``stderr``, ``capture_output``, ``split_lines``,
        ``forward_stderr``, ``ignore_errors``, ``extra_ignore_errors``,
        ``mem_limit``, ``time_limit``, ``real_time_limit``, ``output_limit``
        (resolved ``int`` or ``None``) and the caller's extra keyword
        arguments. Implementations ignore options they do not know.

        The default runs the command with no isolation, see
        :func:`sio.workers.executors.process.run_command` (renv:
        ``return_code``, ``real_time_used``, ``stdout`` when captured,
        ``real_time_killed`` when the wall limit fired; the real-time limit
        defaults to 2 × ``time_limit``).
        """
        return run_command(command, **options)
