"""The right patient (issue 17): reading a DICOM's patient tags and comparing them with the
case's patient. Empty tags are unknown, never a mismatch; any present tag that disagrees is."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from reviewer.documents.image_label import image_label
from reviewer.intake.identity import identity_mismatches, names_agree
from storage.media.dicom_identity import DicomIdentity, read_dicom_identity
from storage.models import Patient
from tests.support.dicoms import write_dicom

PAT = Patient(first_name="Pat", last_name="Demo", date_of_birth=dt.date(1988, 4, 12))


def test_the_four_tags_are_read(tmp_path: Path):
    path = write_dicom(tmp_path / "a.dcm", name="DEMO^PAT^Q", birth_date="19880412", sex="F",
                       patient_id=" CH-1 ")
    assert read_dicom_identity(path) == DicomIdentity(
        name="DEMO^PAT^Q", birth_date=dt.date(1988, 4, 12), sex="F", patient_id="CH-1")


def test_absent_empty_or_malformed_tags_are_unknown(tmp_path: Path):
    path = write_dicom(tmp_path / "a.dcm", name=None, birth_date="1988", sex="")
    identity = read_dicom_identity(path)
    assert identity.empty and identity == DicomIdentity()
    assert identity_mismatches(PAT, identity) == ()
    assert read_dicom_identity(tmp_path / "missing.dcm") == DicomIdentity()


@pytest.mark.parametrize("name", ["Demo^Pat", "DEMO^PAT", "  demo ^ pat ", "Pat Demo",
                                  "Demo, Pat", "Demo^Pat^Quinn", "Démo^Pat"])
def test_the_name_tolerates_the_dicom_form_case_and_whitespace(name: str):
    assert names_agree(name, "Pat", "Demo")
    assert identity_mismatches(PAT, DicomIdentity(name=name)) == ()


@pytest.mark.parametrize("name", ["Testpatient^Zoë", "Demo^Sam", "Demo", "Other^Pat"])
def test_another_name_is_a_mismatch(name: str):
    assert identity_mismatches(PAT, DicomIdentity(name=name)) == ("name",)


def test_the_birth_date_is_exact_and_the_id_is_checked_against_the_student_id():
    assert identity_mismatches(PAT, DicomIdentity(birth_date=dt.date(1988, 4, 13))) == (
        "birth_date",)
    # No student id on the patient: the DICOM's PatientID cannot be checked (unknown).
    assert identity_mismatches(PAT, DicomIdentity(patient_id="X-9")) == ()
    child = Patient(first_name="Ana", last_name="Ruiz", date_of_birth=dt.date(2016, 1, 2),
                    student_id="S-100")
    assert identity_mismatches(child, DicomIdentity(patient_id="s-100 ")) == ()
    assert identity_mismatches(child, DicomIdentity(
        name="Ruiz^Ana", birth_date=dt.date(2016, 1, 2), patient_id="S-101")) == ("patient_id",)
    assert identity_mismatches(child, DicomIdentity(
        name="Other^Kid", birth_date=dt.date(2015, 1, 2))) == ("name", "birth_date")


def test_the_image_label_names_patient_birth_date_capture_view_and_teeth():
    text = image_label("Pat Demo", dt.date(1988, 4, 12), dt.datetime(2026, 11, 20, 8, 5),
                       "bitewing", "3,14")
    assert text.startswith("Pat Demo · born 1988-04-12 · captured 2026-11-20 08:05 · ")
    assert text.endswith(" · teeth 3, 14")
    assert "capture date not recorded" in image_label("A B", dt.date(2000, 1, 1), None, None, "")
