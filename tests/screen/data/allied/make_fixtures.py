# ruff: noqa: E501
"""Builds the allied-list fixtures of this folder from the lists' documented formats (no public copy of the
files was at hand: see README.md). Run: python tests/screen/data/allied/make_fixtures.py (needs fpdf2).
The long lines are the lists' own records."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

HERE = Path(__file__).parent

EU_FSF = """<?xml version="1.0" encoding="UTF-8"?>
<export xmlns="http://eu.europa.ec/fpi/fsd/export" generationDate="2025-11-20T10:00:00.000+01:00" globalFileId="171">
  <sanctionEntity designationDate="2024-05-01" designationDetails="" unitedNationId="" euReferenceNumber="EU.1234.56" logicalId="171001">
    <remark>Fixture entry (built from the documented format).</remark>
    <regulation regulationType="amendment" organisationType="commission" publicationDate="2024-05-02" entryIntoForceDate="2024-05-02" numberTitle="2024/1234 (OJ L 2024/1234)" programme="RUS" logicalId="99">
      <publicationUrl>https://eur-lex.europa.eu/eli/reg/2024/1234/oj</publicationUrl>
    </regulation>
    <subjectType code="enterprise" classificationCode="E"/>
    <nameAlias firstName="" middleName="" lastName="" wholeName="Gulf Front Trading LLC" function="" gender="" title="" nameLanguage="" strong="true" regulationLanguage="en" logicalId="1"/>
    <nameAlias firstName="" middleName="" lastName="" wholeName="GFT LLC" function="" gender="" title="" nameLanguage="" strong="false" regulationLanguage="en" logicalId="2"/>
    <address city="Dubai" street="Al Maktoum Road 7" poBox="" zipCode="" region="" place="" asAtListingTime="true" contactInfo="" countryIso2Code="AE" countryDescription="UNITED ARAB EMIRATES" regulationLanguage="en" logicalId="3"/>
  </sanctionEntity>
  <sanctionEntity designationDate="2022-03-15" euReferenceNumber="EU.5678.90" logicalId="171002">
    <regulation publicationDate="2022-03-15" programme="RUS" logicalId="98"><publicationUrl>https://eur-lex.europa.eu/</publicationUrl></regulation>
    <subjectType code="person" classificationCode="P"/>
    <nameAlias firstName="Ivan" middleName="" lastName="Examplov" wholeName="Ivan Examplov" strong="true" logicalId="4"/>
    <citizenship countryIso2Code="RU" countryDescription="RUSSIAN FEDERATION" logicalId="5"/>
    <identification identificationTypeCode="passport" identificationTypeDescription="National passport" number="751234567" countryIso2Code="RU" logicalId="6"/>
  </sanctionEntity>
</export>
"""

UK_SL = """<?xml version="1.0" encoding="utf-8"?>
<Designations>
  <DateGenerated>21/11/2025</DateGenerated>
  <Designation>
    <LastUpdated>01/05/2024</LastUpdated>
    <DateDesignated>01/05/2024</DateDesignated>
    <UniqueID>RUS1234</UniqueID>
    <OFSIGroupID>16000</OFSIGroupID>
    <UNReferenceNumber></UNReferenceNumber>
    <Names>
      <Name><Name6>Gulf Front Trading LLC</Name6><NameType>Primary Name</NameType></Name>
      <Name><Name6>GFT Trading</Name6><NameType>Alias</NameType></Name>
    </Names>
    <RegimeName>The Russia (Sanctions) (EU Exit) Regulations 2019</RegimeName>
    <IndividualEntityShip>Entity</IndividualEntityShip>
    <DesignationSource>UK</DesignationSource>
    <SanctionsImposed>Asset freeze|Trust services sanctions</SanctionsImposed>
    <OtherInformation>Fixture entry (built from the documented format).</OtherInformation>
    <Addresses><Address><AddressLine1>Al Maktoum Road 7</AddressLine1><AddressLine6>Dubai</AddressLine6><AddressCountry>United Arab Emirates</AddressCountry></Address></Addresses>
  </Designation>
  <Designation>
    <LastUpdated>10/06/2025</LastUpdated>
    <DateDesignated>15/03/2022</DateDesignated>
    <UniqueID>RUS0001</UniqueID>
    <Names><Name><Name1>Ivan</Name1><Name6>Examplov</Name6><NameType>Primary Name</NameType></Name></Names>
    <RegimeName>The Russia (Sanctions) (EU Exit) Regulations 2019</RegimeName>
    <IndividualEntityShip>Individual</IndividualEntityShip>
    <SanctionsImposed>Asset freeze|Travel Ban</SanctionsImposed>
    <IndividualDetails><Individual><Nationalities><Nationality>Russia</Nationality></Nationalities></Individual></IndividualDetails>
  </Designation>
</Designations>
"""

TW_SHTC = (
    "項次item,名稱name,別名alias,地址address,護照號碼ID Number,國家代碼country code\n"
    '1,"Huawei Technologies Co., Ltd.",Huawei; 華為技術有限公司,"Bantian, Longgang District, Shenzhen",,CN\n'
    "2,Semiconductor Manufacturing International Corporation,SMIC; 中芯國際,Shanghai,,CN\n"
    "3,Example Trading Company（永久參考號：KPe.001）,,Pyongyang,,KP\n"
)

JP_ROWS = [
    ("No.", "Country or Region", "Company or Organization", "Also Known As", "Type of WMD"),
    ("1", "Afghanistan", "Al Qaida/Islamic Army", "-", "C, B"),
    ("612", "China", "Beijing Example Institute of Aerodynamics", "BEIA", "M"),
    ("613", "China", "Example Electronic Technology Group Corporation", "EETC\nEETC Group", "N, M"),
]


def make_pdf(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF(orientation="L")
    pdf.set_creation_date(dt.datetime(2025, 2, 5, tzinfo=dt.UTC))
    pdf.add_page()
    pdf.set_font("Helvetica", size=9)
    pdf.cell(0, 8, "End User List (fixture built from the documented format)", new_x="LMARGIN", new_y="NEXT")
    with pdf.table(col_widths=(12, 40, 90, 60, 25)) as table:
        for row in JP_ROWS:
            cells = table.row()
            for value in row:
                cells.cell(value)  # the core fonts have no CJK glyphs: aliases go one a line, not split by "・"
    pdf.output(str(path))


if __name__ == "__main__":
    (HERE / "eu_fsf_sample.xml").write_text(EU_FSF, encoding="utf-8")
    (HERE / "UK_Sanctions_List_sample.xml").write_text(UK_SL, encoding="utf-8")
    (HERE / "tw_shtc_entity_list_sample.csv").write_bytes(b"\xef\xbb\xbf" + TW_SHTC.encode("utf-8"))
    make_pdf(HERE / "jp_end_user_list_sample.pdf")
