"""``simkit serve STUDY [--host HOST] [--port PORT] [--language en|ja]``: the questionnaire
as a web page for a room of phones, tablets and laptops."""
from __future__ import annotations

import argparse
import sys

from simkit.cli.options import Subparsers

__all__ = ["add_parser", "run", "links"]


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``serve`` to the ``simkit`` subparsers."""
    p = subparsers.add_parser(
        "serve", help="serve the questionnaire as a web page (a link and QR code for a "
                      "room); the only writer of STUDY/votes.sqlite")
    p.add_argument("study")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; "
                        "0.0.0.0 for every device on the network)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free)")
    p.add_argument("--language", default="en",
                   help="language the pages open in: en or ja (participants can switch)")
    p.add_argument("--new-session", action="store_true",
                   help="draw new links (the old ones stop working) and reopen a closed "
                        "session")
    p.add_argument("--image-size", type=int, default=480, metavar="PX",
                   help="longest side of the images sent (default 480)")
    p.set_defaults(func=run)
    return p


def links(host: str, port: int, session: str, teacher: str,
          hub_prefix: str | None = None) -> list[str]:
    """The lines printed on start: the participants' and the teacher's links."""
    shown = "localhost" if host in ("127.0.0.1", "localhost", "::1") else (
        network_address() if host in ("0.0.0.0", "::", "") else host)
    lines = [f"participants: http://{shown}:{port}/s/{session}/",
             f"teacher:      http://{shown}:{port}/t/{teacher}/   (keep this one to yourself)"]
    if hub_prefix:
        lines.append(f"through JupyterHub: {hub_prefix}proxy/{port}/t/{teacher}/ (teacher) "
                     f"and {hub_prefix}proxy/{port}/s/{session}/ (participants, who must be "
                     f"able to reach this server)")
    return lines


def network_address() -> str:
    """This machine's address on its network (the one its default route uses), for the
    printed links; ``THIS-MACHINE`` when it has none. Sends nothing: a UDP socket's
    connect only picks the route."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.254.254.254", 1))
            return s.getsockname()[0]
    except OSError:
        return "THIS-MACHINE"


def run(args: argparse.Namespace) -> int:
    """Serve the study until Ctrl-C; print the links first."""
    from simkit.config import jupyterhub_prefix
    from simkit.errors import UsageError, import_extra
    from simkit.serve.session import ServeSession
    from simkit.study.model import open_study
    from simkit.votes.messages import check_language

    import_extra("tornado", "simkit serve", "serve")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: give a port from 1 to 65535 (0: any free port)")
    if not 64 <= args.image_size <= 2048:
        raise UsageError(f"--image-size {args.image_size}: give 64 to 2048 pixels")
    language = check_language(args.language)
    study = open_study(args.study)
    from simkit.serve.server import run as serve

    session = ServeSession(study, language=language, new_session=args.new_session)
    try:
        def ready(port: int) -> None:
            for line in links(args.host, port, session.session_token, session.teacher_token,
                              jupyterhub_prefix()):
                print(line)
            if session.closed:
                print("note: this session is closed (participants see so); start with "
                      "--new-session to open a new one")
            print(f"votes go to {session.store.path}; Ctrl-C stops the server "
                  f"(every confirmed answer is already saved)", flush=True)

        serve(session, args.host, args.port, image_px=args.image_size, on_ready=ready)
    finally:
        session.release()
    print("stopped", file=sys.stderr)
    return 0
