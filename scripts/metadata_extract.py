"""Build the metadata extracts tests/test_metadata.py checks crmsync's requests against.

Two sources, each named with its repository, path and commit in the extract:

- the Microsoft Graph v1.0 CSDL, `schemas/v1.0-Prod.csdl` in
  microsoftgraph/msgraph-metadata (a clone, or a bare git directory): the
  entity and complex types crmsync reads and writes, with their inherited
  properties, the enumerations their properties use, and the bound actions
  crmsync calls;
- the Dataverse table reference pages,
  `powerapps-docs/developer/data-platform/reference/entities/<table>.md` in
  MicrosoftDocs/powerapps-docs: per table, every column's logical name,
  whether it is valid for create and for update, its MaxLength and type
  (a column the page lists without `IsValidForCreate`/`IsValidForUpdate`
  is valid for both, as the pages say: "These attributes return true for
  either IsValidForCreate or IsValidForUpdate").

Usage:

    python scripts/metadata_extract.py graph path/to/msgraph-metadata
    python scripts/metadata_extract.py dataverse tests/metadata/powerapps-docs

`DIR` holds the table pages (`appointment.md`, ...), each opening with a
comment naming its repository, commit and path (tests/metadata/powerapps-docs/
holds excerpts: see its README.md). The extracts are written to tests/metadata/.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "tests" / "metadata"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
CSDL_PATH = "schemas/v1.0-Prod.csdl"
GRAPH_REPO = "microsoftgraph/msgraph-metadata"
DOCS_REPO = "MicrosoftDocs/powerapps-docs"
DOCS_PATH = "powerapps-docs/developer/data-platform/reference/entities"

# The Graph types crmsync's requests name or send; the complex and enum types their
# properties use are followed from these.
GRAPH_ROOTS = (
    "event",
    "contact",
    "todoTask",
    "linkedResource",
    "fileAttachment",
    "attachmentItem",
    "uploadSession",
    "singleValueLegacyExtendedProperty",
    "patternedRecurrence",
)
GRAPH_ACTIONS = ("createUploadSession",)
# The types a request URL walks through (/me/todo/lists/{id}/tasks): only their navigation.
GRAPH_PATH_TYPES = ("user", "todo", "todoTaskList")

DATAVERSE_TABLES = (
    "contact",
    "appointment",
    "recurringappointmentmaster",
    "task",
    "activitymimeattachment",
    "activityparty",
)


def _short(type_name: str) -> tuple[str, bool]:
    """`graph.attendee` -> ("attendee", False); `Collection(graph.x)` -> ("x", True)."""
    collection = type_name.startswith("Collection(")
    inner = type_name[len("Collection(") : -1] if collection else type_name
    return inner.removeprefix("graph.").removeprefix("microsoft.graph."), collection


def graph_extract(csdl: str, commit: str) -> dict[str, Any]:
    """The types, enums and actions crmsync uses, from the Graph CSDL text.

    Args:
        csdl: the text of `schemas/v1.0-Prod.csdl`.
        commit: the msgraph-metadata commit it was read at.

    Returns:
        JSON data: `source`, `types` (kind, base, abstract, properties with
        their own and inherited members, navigation properties), `enums`
        and `actions`.
    """
    root = ET.fromstring(csdl)  # noqa: S314 - Microsoft's published metadata
    schema = next(s for s in root.iter(f"{EDM}Schema") if s.get("Namespace") == "microsoft.graph")
    declared: dict[str, ET.Element] = {}
    enums: dict[str, ET.Element] = {}
    for element in schema:
        name = element.get("Name", "")
        if element.tag in (f"{EDM}EntityType", f"{EDM}ComplexType"):
            declared[name] = element
        elif element.tag == f"{EDM}EnumType":
            enums[name] = element

    types: dict[str, Any] = {}
    used_enums: set[str] = set()
    todo = list(GRAPH_ROOTS)
    while todo:
        name = todo.pop()
        if name in types or name not in declared:
            continue
        chain, current = [], declared[name]
        while True:
            chain.append(current)
            base = current.get("BaseType")
            if not base:
                break
            current = declared[_short(base)[0]]
        properties: dict[str, Any] = {}
        navigation: dict[str, Any] = {}
        for element in reversed(chain):  # the base type's members first
            for prop in element.findall(f"{EDM}Property"):
                inner, collection = _short(prop.get("Type", ""))
                properties[prop.get("Name", "")] = {"type": inner, "collection": collection}
                if inner in enums:
                    used_enums.add(inner)
                elif inner in declared and declared[inner].tag == f"{EDM}ComplexType":
                    todo.append(inner)
            for nav in element.findall(f"{EDM}NavigationProperty"):
                inner, collection = _short(nav.get("Type", ""))
                navigation[nav.get("Name", "")] = {"type": inner, "collection": collection}
        element = declared[name]
        types[name] = {
            "kind": "entity" if element.tag == f"{EDM}EntityType" else "complex",
            "base": _short(element.get("BaseType", ""))[0] or None,
            "abstract": element.get("Abstract") == "true",
            "properties": dict(sorted(properties.items())),
            "navigation": dict(sorted(navigation.items())),
        }
        # A base type is a type of its own too (an attendee is a recipient).
        base = element.get("BaseType")
        if base:
            todo.append(_short(base)[0])

    actions: dict[str, Any] = {}
    for action in schema.findall(f"{EDM}Action"):
        name = action.get("Name", "")
        if name not in GRAPH_ACTIONS:
            continue
        params = action.findall(f"{EDM}Parameter")
        bound_to, collection = _short(params[0].get("Type", ""))
        if bound_to != "attachment":  # the Outlook item's attachments, not drive items
            continue
        actions[name] = {
            "bound_to": bound_to,
            "collection": collection,
            "parameters": {p.get("Name", ""): _short(p.get("Type", ""))[0] for p in params[1:]},
            "returns": _short(action.find(f"{EDM}ReturnType").get("Type", ""))[0],  # type: ignore[union-attr]
        }
        for param in actions[name]["parameters"].values():
            if param in declared and param not in types:
                raise SystemExit(f"{param} is not among the extracted types: add it to GRAPH_ROOTS")

    paths = {
        name: {
            nav.get("Name", ""): dict(
                zip(("type", "collection"), _short(nav.get("Type", "")), strict=True)
            )
            for nav in declared[name].findall(f"{EDM}NavigationProperty")
            if _short(nav.get("Type", ""))[0] in (*GRAPH_ROOTS, *GRAPH_PATH_TYPES, "attachment")
        }
        for name in GRAPH_PATH_TYPES
    }
    return {
        "source": {"repository": GRAPH_REPO, "path": CSDL_PATH, "commit": commit},
        "paths": paths,
        "types": dict(sorted(types.items())),
        "enums": {
            name: [m.get("Name") for m in enums[name].findall(f"{EDM}Member")]
            for name in sorted(used_enums)
        },
        "actions": actions,
    }


_BLOCK = re.compile(r'^### <a name="BKMK_(\w+)"></a>', re.MULTILINE)
_ITEM = re.compile(r"^- \[(\w+)\]\(#BKMK_\w+\)", re.MULTILINE)
_ROW = re.compile(r"^\|\s*\**(\w+)\**\s*\|(.*)\|\s*$", re.MULTILINE)
_SECTION = re.compile(r"^## (.+)$", re.MULTILINE)
_STATE = re.compile(r"State:\s*(\d+)")
_SOURCE = re.compile(r"^<!-- (\S+) ([0-9a-f]{40}) (\S+) -->")


def _cell(value: str) -> str:
    return value.strip().strip("`*").strip()


def _status_states(options: str) -> dict[str, int]:
    """A status column's options: each value and the state it belongs to.

    The older pages write `|1|Free|0|` (Value, Label, State); the newer ones
    `|2|Label: **Not Started**<br />State:0<br />...|`.
    """
    states = {}
    for line in options.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not cells or not cells[0].isdigit():
            continue
        found = _STATE.search(line)
        if found:
            states[cells[0]] = int(found.group(1))
        elif len(cells) >= 3 and cells[2].isdigit():
            states[cells[0]] = int(cells[2])
    return states


def table_extract(page: str) -> dict[str, Any]:
    """The columns of one Dataverse table reference page (or an excerpt of one).

    Args:
        page: the page's markdown.

    Returns:
        `{"entity_set", "columns": {logicalname: {"create", "update",
        "max_length", "type", "required", "status_states"}}}`. A column in the
        "Writable" section is valid for create and update unless its block
        says `IsValidForCreate`/`IsValidForUpdate` False; a column in the
        "Read-only" section is valid for neither. Columns listed without a
        block take their logical name from the schema name, lower-cased (as
        every standard column's is).
    """
    sections = [(m.start(), m.group(1).strip()) for m in _SECTION.finditer(page)]
    entity_set = ""
    columns: dict[str, Any] = {}
    for i, (start, title) in enumerate(sections):
        end = sections[i + 1][0] if i + 1 < len(sections) else len(page)
        text = page[start:end]
        rows = {name: _cell(value) for name, value in _ROW.findall(text)}
        if "EntitySetName" in rows and not entity_set:
            entity_set = rows["EntitySetName"]
        if not title.endswith("attributes"):
            continue
        writable = title.startswith("Writable")
        blocks = list(_BLOCK.finditer(text))
        listed = text[: blocks[0].start()] if blocks else text
        for schema in _ITEM.findall(listed):
            columns[schema.lower()] = {
                "create": writable,
                "update": writable,
                "max_length": None,
                "type": "",
                "required": "",
            }
        for j, block in enumerate(blocks):
            body = text[block.end() : blocks[j + 1].start() if j + 1 < len(blocks) else len(text)]
            properties, _, options = body.partition("\n####")
            found = {name: _cell(value) for name, value in _ROW.findall(properties)}
            name = found.get("LogicalName", block.group(1).lower())
            max_length = found.get("MaxLength", "")
            column = {
                "create": writable and found.get("IsValidForCreate", "True") == "True",
                "update": writable and found.get("IsValidForUpdate", "True") == "True",
                "max_length": int(max_length) if max_length.isdigit() else None,
                "type": found.get("Type", ""),
                "required": found.get("RequiredLevel", ""),
            }
            if column["type"] == "Status":
                column["status_states"] = _status_states(options)
            columns.pop(block.group(1).lower(), None)
            columns[name] = column
    return {"entity_set": entity_set, "columns": dict(sorted(columns.items()))}


def dataverse_extract(folder: Path) -> dict[str, Any]:
    """The tables crmsync writes, from their reference pages in `folder`.

    Each page's first line names its source (`<!-- repository commit path -->`,
    as tests/metadata/powerapps-docs/ keeps them); a page without one is taken
    as `DOCS_REPO`'s at an unknown commit.
    """
    tables = {}
    for table in DATAVERSE_TABLES:
        page = (folder / f"{table}.md").read_text(encoding="utf-8")
        found = _SOURCE.match(page)
        source = (
            {"repository": found.group(1), "commit": found.group(2), "path": found.group(3)}
            if found
            else {"repository": DOCS_REPO, "commit": "", "path": f"{DOCS_PATH}/{table}.md"}
        )
        tables[table] = {"source": source, **table_extract(page)}
    return {
        "source": {"repository": DOCS_REPO, "path": f"{DOCS_PATH}/<table>.md"},
        "tables": tables,
    }


def _write(name: str, data: dict[str, Any]) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / name
    path.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Builds one extract; prints where it went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="source", required=True)
    graph = sub.add_parser("graph", help="from a msgraph-metadata git directory")
    graph.add_argument("git_dir", type=Path)
    graph.add_argument("--commit", default="HEAD")
    dataverse = sub.add_parser("dataverse", help="from a folder of table reference pages")
    dataverse.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    if args.source == "graph":
        git = ["git", f"--git-dir={args.git_dir}"]
        commit = subprocess.run(  # noqa: S603 - git, with the caller's own arguments
            [*git, "rev-parse", args.commit], check=True, capture_output=True, text=True
        ).stdout.strip()
        csdl = subprocess.run(  # noqa: S603
            [*git, "show", f"{commit}:{CSDL_PATH}"], check=True, capture_output=True, text=True
        ).stdout
        print(_write("graph-v1.0.json", graph_extract(csdl, commit)))
    else:
        print(_write("dataverse-tables.json", dataverse_extract(args.folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
