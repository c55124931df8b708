"""Sphinx directives that write tables from edkit's registries, so the docs cannot drift from them.

``.. edkit-models::``        every model in :data:`edkit.models.MODELS`: factory, parameters with
                             defaults, sectors and declared capabilities.
``.. edkit-observables::``   every observable in :data:`edkit.observables.REGISTRY`.
``.. edkit-catalogue::``     every verification in :data:`mappings.verifications.CATALOGUE`.
"""

from __future__ import annotations

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)


def _first_line(doc: str | None) -> str:
    lines = (doc or "").strip().splitlines()
    return lines[0].strip() if lines else ""


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _plain(text: object) -> str:
    """Plain text (a CLI summary) shown literally: no RST markup is interpreted."""
    out = str(text).replace("\n", " ")
    for ch in "\\`*_|":
        out = out.replace(ch, "\\" + ch)
    return out


def _list_table(title: str, header: list[str], rows: list[list[str]], widths: str | None = None) -> list[str]:
    out = [f".. list-table:: {title}", "   :header-rows: 1"]
    if widths:
        out.append(f"   :widths: {widths}")
    out.append("")
    for row in [header, *rows]:
        out.append(f"   * - {row[0] or ' '}")
        out.extend(f"     - {cell or ' '}" for cell in row[1:])
    out.append("")
    return out


class _RstDirective(SphinxDirective):
    has_content = False

    def lines(self) -> list[str]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        try:
            lines = self.lines()
        except Exception as exc:  # a warning: -W fails the build, --keep-going still shows the rest
            logger.warning("%s: cannot read the registry: %s: %s", self.name, type(exc).__name__, exc,
                           location=self.get_location())
            return []
        node = nodes.section()
        node.document = self.state.document
        rst = StringList(lines, source="<edkit registry>")
        self.state.nested_parse(rst, self.content_offset, node)
        return node.children


class ModelsDirective(_RstDirective):
    def lines(self) -> list[str]:
        from edkit.models import MODELS

        rows = []
        for name, factory in MODELS.items():
            m = factory(2, "open")
            caps = m.capabilities
            params = ", ".join(f"``{p.name}={p.default}``" for p in m.parameters.values())
            extras = [f"family ``{caps.family}``"] if caps.family else []
            if caps.symmetries:
                conditions = (f"``{k}`` ({_plain(v)})" for k, v in caps.symmetries.items())
                extras.append("symmetries " + ", ".join(conditions))
            if caps.space:
                extras.append(f"space ``{caps.space}``")
            if caps.observables:
                extras.append("observables " + ", ".join(f"``{o}``" for o in caps.observables))
            rows.append([f"``{name}``", f":func:`~{factory.__module__}.{factory.__qualname__}`",
                         _cell(_first_line(factory.__doc__)), params,
                         ", ".join(f"``{s}``" for s in m.sector_names),
                         _cell("; ".join(extras) or "none declared")])
        return _list_table("Registered models (``edkit.models.MODELS``)",
                           ["name", "factory", "summary", "parameters (defaults)", "sectors", "capabilities"],
                           rows, "8 12 26 18 8 28")


class ObservablesDirective(_RstDirective):
    def lines(self) -> list[str]:
        from edkit.observables import REGISTRY, load_families

        load_families()  # family observables register when their study modules load
        rows = []
        for name, obs in REGISTRY.items():
            options = ", ".join(f"``{k}={v!r}``" for k, v in dict(obs.options).items()) or "none"
            rows.append([f"``{name}``", _plain(obs.summary), getattr(obs, "kind", ""), _cell(options)])
        return _list_table("Registered observables (``edkit.observables.REGISTRY``)",
                           ["name", "summary", "kind", "options (defaults)"], rows, "14 50 12 24")


class CatalogueDirective(_RstDirective):
    def lines(self) -> list[str]:
        from mappings.verifications import CATALOGUE

        rows = []
        for name, fn in CATALOGUE.items():
            target = f"{fn.__module__}.{fn.__qualname__}"
            rows.append([f"``{name}``", f":func:`~{target}`", _cell(_first_line(fn.__doc__))])
        return _list_table("The verification catalogue (``mappings.verifications.CATALOGUE``)",
                           ["name", "function", "what it proves"], rows, "20 25 55")


def setup(app) -> dict:
    app.add_directive("edkit-models", ModelsDirective)
    app.add_directive("edkit-observables", ObservablesDirective)
    app.add_directive("edkit-catalogue", CatalogueDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
