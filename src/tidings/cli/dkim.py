"""``tidings dkim``: the keys Tidings signs outgoing mail with."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from tidings.cli import context
from tidings.cli.output import console, print_json
from tidings.services import dkim_keys

app = typer.Typer(help="Generate, list and remove DKIM signing keys.", no_args_is_help=True)


class KeyType(StrEnum):
    RSA = "rsa"
    ED25519 = "ed25519"

    @property
    def algorithm(self) -> str:
        return f"{self.value}-sha256"


@app.command("generate")
def generate(
    domain: Annotated[str, typer.Option("--domain", "-d",
                                        help="Domain of the sending address.")],
    selector: Annotated[str, typer.Option("--selector", "-s",
                                          help="Selector, e.g. s2026 (new for each key).")],
    algorithm: Annotated[KeyType, typer.Option(
        "--algorithm", "-a", help="rsa (RSA-2048, checked everywhere) or ed25519.")
    ] = KeyType.RSA,
) -> None:
    """Make a key, sign mail with it from now on, and print the DNS record to publish."""
    made = dkim_keys.generate(context.runtime().db, domain=domain, selector=selector,
                              algorithm=algorithm.algorithm, actor="cli")
    console.print(f"Created the {made.algorithm} key {made.selector} for {made.domain}; "
                  "mail from that domain is signed with it from now on.")
    console.print(f"Publish this TXT record at [bold]{made.dns_name}[/bold]:")
    console.print(made.dns_record, markup=False, soft_wrap=True)
    console.print("As a zone file line:")
    console.print(made.zone_line, markup=False, soft_wrap=True)


@app.command("list")
def list_all(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the signing keys with the DNS record each one needs."""
    keys = dkim_keys.all_keys(context.runtime().db)
    if as_json:
        print_json([{"domain": k.domain, "selector": k.selector, "algorithm": k.algorithm,
                     "dns_name": k.dns_name, "dns_record": k.dns_record} for k in keys])
        return
    if not keys:
        console.print("No DKIM keys: mail goes out unsigned. Make one with "
                      "tidings dkim generate --domain D --selector S.", markup=False)
        return
    table = Table("domain", "selector", "algorithm", "TXT record at")
    for k in keys:
        table.add_row(k.domain, k.selector, k.algorithm, k.dns_name)
    console.print(table)


@app.command("remove")
def remove(
    domain: Annotated[str, typer.Option("--domain", "-d", help="Domain of the key.")],
    selector: Annotated[str, typer.Option("--selector", "-s", help="Selector of the key.")],
) -> None:
    """Stop signing with a key (remove its DNS record only afterwards)."""
    dkim_keys.remove(context.runtime().db, domain=domain, selector=selector, actor="cli")
    console.print(f"Removed the key {selector} for {domain}; mail is no longer signed "
                  "with it.", markup=False)
