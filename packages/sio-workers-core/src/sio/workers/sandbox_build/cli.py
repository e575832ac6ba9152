"""``sio-sandbox``: build and publish sandbox images.

* ``sio-sandbox list`` — the names buildable on this host;
* ``sio-sandbox build NAME... [--out DIR] [--force]`` — build (or take from
  the cache) and print the archive paths;
* ``sio-sandbox manifest NAME`` — print the manifest the image would have;
* ``sio-sandbox publish NAME... --filetracker URL`` — upload to
  ``/sandboxes/<name>.tar.gz`` on that filetracker.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from sio.workers.sandbox_build import builder, debian, recipes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sio-sandbox",
                                     description="Build and publish sandbox images.")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="image names buildable on this host")
    build = sub.add_parser("build", help="build images (cached)")
    build.add_argument("names", nargs="+", metavar="NAME")
    build.add_argument("--out", help="also put NAME.tar.gz into this directory")
    build.add_argument("--force", action="store_true", help="rebuild even if cached")
    man = sub.add_parser("manifest", help="print the manifest of an image")
    man.add_argument("name", metavar="NAME")
    pub = sub.add_parser("publish", help="build and upload to a filetracker")
    pub.add_argument("names", nargs="+", metavar="NAME")
    pub.add_argument("--filetracker", default=os.environ.get("FILETRACKER_URL"),
                     help="server URL (default: $FILETRACKER_URL)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(message)s")
    try:
        if args.command == "list":
            for name in recipes.known_names():
                print(name)
        elif args.command == "build":
            for name in args.names:
                print(builder.build_image(name, args.out, force=args.force), flush=True)
        elif args.command == "manifest":
            print(json.dumps(builder.manifest_for(args.name), indent=1, sort_keys=True))
        else:
            if not args.filetracker:
                print("sio-sandbox: give --filetracker URL or set FILETRACKER_URL",
                      file=sys.stderr)
                return 2
            for name, vname in builder.publish(args.names, args.filetracker).items():
                print(f"{name}: {vname}", flush=True)
    except (recipes.RecipeError, debian.DebianError, RuntimeError, OSError) as exc:
        print(f"sio-sandbox: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
