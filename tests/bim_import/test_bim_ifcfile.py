"""Bad input gets a clear error before anything is read further."""
from __future__ import annotations

import pytest

from bim_import import BimError, IfcFileError, read_ifc
from bim_import.sample import write_sample_ifc


def test_a_file_that_is_not_ifc_is_refused(tmp_path):
    path = tmp_path / "model.ifc"
    path.write_text("<?xml version='1.0'?><ifcXML/>", encoding="utf-8")
    with pytest.raises(IfcFileError, match="not an IFC-SPF file"):
        read_ifc(path)


def test_a_truncated_file_is_refused(tmp_path):
    whole = write_sample_ifc(tmp_path / "whole.ifc")
    data = whole.read_bytes()
    cut = tmp_path / "cut.ifc"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(IfcFileError, match="truncated"):
        read_ifc(cut)


def test_an_unsupported_schema_is_refused_and_named(tmp_path):
    text = write_sample_ifc(tmp_path / "ok.ifc").read_text(encoding="utf-8")
    old = tmp_path / "old.ifc"
    old.write_text(text.replace("FILE_SCHEMA(('IFC4'))", "FILE_SCHEMA(('IFC2X2_FINAL'))"),
                   encoding="utf-8")
    with pytest.raises(BimError, match="IFC2X2"):
        read_ifc(old)


def test_a_missing_file_is_a_bim_error(tmp_path):
    with pytest.raises(BimError, match="no such file"):
        read_ifc(tmp_path / "absent.ifc")
