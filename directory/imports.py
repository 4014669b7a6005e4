"""Importing the directory from regulators' spreadsheets (Excel or CSV, Chinese or English headers).

Each row is validated with the API's own schema and written through the same service functions as
the API, so an imported institution is exactly what POST /institutions would have made (code
included). Matching: institutions by 统一社会信用代码, staff by 身份证号 within their institution.
All or nothing by default: with any rejected row nothing is written, unless `partial` (each row then
stands alone in a savepoint). `dry_run` runs every check, the database's included, then rolls back.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from marshmallow import ValidationError
from sqlalchemy import select, text

from api import spreadsheets
from api.access import ADMIN
from api.errors import DomainError, ValidationFailed
from api.zh_messages import in_chinese
from directory import service
from registry import service as registry
from registry.models import CATEGORIES, STAFF_ROLES, Institution, Staff
from registry.schemas import InstitutionInSchema, StaffInSchema

BATCH = 500  # rows between flushes; the session is emptied so memory stays flat on large files

INSTITUTION_COLUMNS = {  # field: (Chinese header, other accepted headers)
    "name": ("名称", ("机构名称", "name")),
    "uscc": ("统一社会信用代码", ("社会信用代码", "uscc")),
    "licence_no": ("登记号", ("执业许可证登记号", "许可证号", "执业许可证号", "licence_no", "license_no")),
    "category": ("类别", ("机构类别", "category")),
    "scope": ("诊疗科目", ("scope",)),
    "address": ("地址", ("执业地址", "address")),
    "street": ("街道", ("所属街道", "乡镇街道", "street")),
    "legal_representative": ("法定代表人", ("法人", "legal_representative")),
    "principal": ("主要负责人", ("负责人", "principal")),
    "licence_valid_from": ("有效期自", ("有效期起", "licence_valid_from")),
    "licence_valid_to": ("有效期至", ("有效期止", "licence_valid_to")),
    "phone": ("电话", ("联系电话", "phone")),
    "remote_monitoring": ("远程监控", ("remote_monitoring",)),
}
STAFF_COLUMNS = {
    "name": ("姓名", ("name",)),
    "id_number": ("身份证号", ("身份证号码", "id_number")),
    "role": ("类别", ("人员类别", "role")),
    "title": ("职称", ("title",)),
    "qualification_no": ("资格证书编号", ("qualification_no",)),
    "practice_cert_no": ("执业证书编号", ("practice_cert_no",)),
    "practice_category": ("执业类别", ("practice_category",)),
    "practice_scope": ("执业范围", ("practice_scope",)),
    "institution_uscc": ("机构统一社会信用代码", ("institution_uscc",)),
}
# Columns the directory export adds after the template's (directory/exports.py): accepted and ignored,
# so a regulator can export, correct in Excel, and import the same file back.
EXPORT_ONLY_HEADERS = {"机构编号", "执业状态", "许可证状态", "信用等级", "不良执业记分", "码色", "名单", "监管方式", "风险等级",
                       "码链接", "登记时间"}
DATE_FIELDS = {"licence_valid_from", "licence_valid_to"}
_YES = {"是", "有", "yes", "true", "1", "y"}
_NO = {"否", "无", "no", "false", "0", "n", ""}


@dataclass
class Result:
    created: int = 0
    updated: int = 0
    rejected: list[dict] = field(default_factory=list)
    dry_run: bool = False

    def reject(self, row: int, fields: dict) -> None:
        self.rejected.append({"row": row, "fields": fields})

    def answer(self) -> dict:
        return {"created": self.created, "updated": self.updated, "rejected": self.rejected, "dry_run": self.dry_run}


def _column_map(headers: list[str], columns: dict) -> dict[int, str]:
    """Header position → field; unknown headers are an error (a typo must not silently drop a column)."""
    lookup = {}
    for name, (chinese, others) in columns.items():
        for label in (chinese, *others):
            lookup[label.strip().lower()] = name
    mapping, unknown = {}, []
    for index, header in enumerate(headers):
        if not header or (columns is INSTITUTION_COLUMNS and header.strip() in EXPORT_ONLY_HEADERS):
            continue
        name = lookup.get(header.strip().lower())
        if name is None:
            unknown.append(header)
        elif name in mapping.values():
            raise ValidationFailed("表头重复", fields={"file": [f"列“{header}”重复"]})
        else:
            mapping[index] = name
    if unknown:
        raise ValidationFailed("表头无法识别", fields={"file": [f"无法识别的列：{'、'.join(unknown)}"]})
    return mapping


def _required_columns(mapping: dict[int, str], columns: dict, schema) -> None:
    required = [name for name, f in schema().fields.items() if f.required and name in columns]
    if "institution_uscc" in columns:
        required.append("institution_uscc")
    missing = [columns[name][0] for name in required if name not in mapping.values()]
    if missing:
        raise ValidationFailed("缺少必填列", fields={"file": [f"缺少必填列：{'、'.join(missing)}"]})


def _cells(row: list, mapping: dict[int, str]) -> tuple[dict, dict]:
    """(values by field, per-field errors for formulas) from one row's cells."""
    values, errors = {}, {}
    for index, name in mapping.items():
        value = row[index] if index < len(row) else None
        if isinstance(value, spreadsheets.FormulaCell):
            errors[name] = ["不接受公式，请粘贴为数值"]
            continue
        values[name] = spreadsheets.as_date(value) if name in DATE_FIELDS else spreadsheets.as_text(value)
    return values, errors


def _institution_payload(values: dict) -> dict:
    payload = {k: v for k, v in values.items() if v is not None}
    if "category" in payload:  # 诊所 or clinic
        by_name = {label: code for code, label in CATEGORIES.items()}
        payload["category"] = by_name.get(payload["category"], payload["category"])
    if "scope" in payload:
        for separator in ("，", ",", "；", ";", "/", " "):
            payload["scope"] = payload["scope"].replace(separator, "、")
        payload["scope"] = [s for s in payload["scope"].split("、") if s]
    if "remote_monitoring" in payload:
        flag = payload["remote_monitoring"].lower()
        payload["remote_monitoring"] = True if flag in _YES else False if flag in _NO else flag
    if "uscc" in payload:
        payload["uscc"] = payload["uscc"].upper()
    return payload


def _staff_payload(values: dict) -> dict:
    payload = {k: v for k, v in values.items() if v is not None}
    if "role" in payload:
        by_name = {label: code for code, label in STAFF_ROLES.items()}
        payload["role"] = by_name.get(payload["role"], payload["role"])
    if "id_number" in payload:
        payload["id_number"] = payload["id_number"].upper()
    return payload


def _errors_of(error: Exception) -> dict:
    if isinstance(error, ValidationError):
        messages = error.messages if isinstance(error.messages, dict) else {"_": error.messages}
        return {k: [in_chinese(str(m)) for m in (v if isinstance(v, list) else [v])] for k, v in messages.items()}
    if isinstance(error, DomainError):
        return error.fields or {"_": [error.message]}
    raise error


def _in_chinese(errors: dict) -> dict:
    """The schema's choice errors name codes; spreadsheet users write the Chinese names."""
    if "category" in errors:
        errors["category"] = ["类别应为：" + "、".join(CATEGORIES.values())]
    if "role" in errors:
        errors["role"] = ["类别应为：" + "、".join(STAFF_ROLES.values())]
    return errors


@dataclass
class _Context:
    """What every row of one import shares: the schemas (built once, not per row) and the institutions
    known by 统一社会信用代码 (read once, kept up to date as rows create more)."""

    session: object
    schema: type
    ids: dict[str, int | None] = field(default_factory=dict)
    batch: service.Batch | None = None  # new institutions inserted a batch at a time (not in a partial import)

    def __post_init__(self):
        self.full, self.partial = self.schema(), self.schema(partial=True)

    def institution_id(self, uscc: str) -> int | None:
        if uscc not in self.ids:
            self.ids[uscc] = self.session.scalar(select(Institution.id).where(Institution.uscc == uscc))
        return self.ids[uscc]


def run(*, session, data: bytes, kind: str, dry_run: bool, partial: bool, progress=None,
        max_rows: int = spreadsheets.MAX_ROWS) -> dict:
    """Import `data` (institutions or staff); the caller commits when the answer says so (`written`).
    `progress(rows read, rows in the file or None)` is called every BATCH rows and at the end."""
    table = spreadsheets.read(data)
    columns, schema = (INSTITUTION_COLUMNS, InstitutionInSchema) if kind == "institutions" else (STAFF_COLUMNS,
                                                                                                StaffInSchema)
    mapping = _column_map(table.headers, columns)
    _required_columns(mapping, columns, schema)
    result = Result(dry_run=dry_run)
    seen: dict[str, int] = {}
    context = _Context(session, schema)
    if partial:
        _open_transaction(session)
    elif kind == "institutions":  # without savepoints, new rows can wait for their batch's INSERT
        context.batch = service.Batch(session)
    if kind == "institutions":  # one query for the whole directory instead of one per row
        rows = session.execute(select(Institution.uscc, Institution.id))
        context.ids.update((uscc, institution_id) for uscc, institution_id in rows)
    handle = _import_institution if kind == "institutions" else _import_staff
    count = 0
    for number, row in table.rows:
        if spreadsheets.is_blank(row):
            continue
        count += 1
        if count > max_rows:
            raise ValidationFailed(fields={"file": [f"一次最多导入 {max_rows} 行"]})
        values, errors = _cells(row, mapping)
        if errors:
            result.reject(number, errors)
            continue
        payload = (_institution_payload if kind == "institutions" else _staff_payload)(values)
        key = payload.get("uscc") if kind == "institutions" else f"{payload.get('institution_uscc')}/{payload.get('id_number')}"
        if key in seen:
            result.reject(number, {"uscc" if kind == "institutions" else "id_number": [f"与第 {seen[key]} 行重复"]})
            continue
        seen[key] = number
        savepoint = session.begin_nested() if partial else None
        try:
            created = handle(context, payload)
        except (ValidationError, DomainError) as error:
            if savepoint is not None:
                savepoint.rollback()
            result.reject(number, _in_chinese(_errors_of(error)))
            continue
        if savepoint is not None:
            savepoint.commit()
        if created:
            result.created += 1
        else:
            result.updated += 1
        if count % BATCH == 0:
            if context.batch is not None:
                context.batch.flush()
            session.flush()
            session.expunge_all()
            if progress is not None:
                progress(number - 1, table.size)
    if context.batch is not None:
        context.batch.flush()
    session.flush()
    answer = result.answer()
    answer["written"] = not dry_run and (partial or not answer["rejected"])
    if progress is not None:
        progress(count, count)
    return answer


def _open_transaction(session) -> None:
    """Make the rows' savepoints nest inside the request's transaction on SQLite too.

    pysqlite opens its transaction only at the first INSERT/UPDATE/DELETE, so a SAVEPOINT sent before
    any of them is the outermost one, and releasing it commits: each good row of a partial import would
    be committed at once, even in a dry run or when a later row turns out to be unreadable. A no-op
    UPDATE first makes pysqlite send BEGIN (and takes the write lock an import needs anyway).
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE institutions SET id = id WHERE 0 = 1"))


def _import_institution(context: _Context, payload: dict) -> bool:
    session = context.session
    if "uscc" in payload:  # normalise first, so a lower-case or spaced code still matches
        payload["uscc"] = registry.normalise_uscc(payload["uscc"])
    existing_id = context.ids.get(payload["uscc"]) if payload.get("uscc") else None
    if existing_id is None:
        data = context.full.load(payload)
        if context.batch is not None:
            context.batch.create(data)  # its id comes with the batch; a repeat in the file is refused before
        else:
            institution = service.create_institution(session=session, data=data)
            context.ids[institution.uscc] = institution.id
        return True
    data = context.partial.load(payload)
    institution = session.get(Institution, existing_id)
    before = {"uscc": institution.uscc, "licence_no": institution.licence_no}
    registry.update_institution(session=session, institution=institution, changes=data, account=_IMPORTER)
    if context.batch is not None:
        context.batch.taken.renumbered(before, {"uscc": institution.uscc, "licence_no": institution.licence_no})
    return False


def _import_staff(context: _Context, payload: dict) -> bool:
    session = context.session
    institution_uscc = payload.pop("institution_uscc", None)
    if not institution_uscc:
        raise ValidationFailed(fields={"institution_uscc": ["请填写机构统一社会信用代码"]})
    institution_id = context.institution_id(institution_uscc.upper())
    if institution_id is None:
        raise ValidationFailed(fields={"institution_uscc": ["未找到该统一社会信用代码的机构，请先导入机构"]})
    institution = session.get(Institution, institution_id)
    if "id_number" in payload:
        payload["id_number"] = registry.normalise_id_number(payload["id_number"])
    existing = session.scalar(select(Staff).where(Staff.institution_id == institution.id,
                                                  Staff.id_number == payload.get("id_number")))
    if existing is None:
        data = context.full.load(payload)
        service.create_staff(session=session, institution=institution, data=data)
        return True
    data = context.partial.load(payload)
    registry.update_staff(session=session, staff=existing, changes=data)
    return False


class _Importer:
    """Imports are done by a regulator: the service's regulator-only checks pass."""

    role = ADMIN
    institution_id = None


_IMPORTER = _Importer()


def template(kind: str) -> bytes:
    """An .xlsx with the Chinese headers, one example row, and a drop-down list for the category."""
    import openpyxl
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    columns = INSTITUTION_COLUMNS if kind == "institutions" else STAFF_COLUMNS
    example = EXAMPLES[kind]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "机构" if kind == "institutions" else "人员"
    headers = [chinese for chinese, _ in columns.values()]
    sheet.append(headers)
    sheet.append([example.get(name, "") for name in columns])
    for index, header in enumerate(headers, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        sheet.column_dimensions[openpyxl.utils.get_column_letter(index)].width = max(12, len(header) * 2 + 6)
    choices = list(CATEGORIES.values()) if kind == "institutions" else list(STAFF_ROLES.values())
    category_column = openpyxl.utils.get_column_letter(list(columns).index("category" if kind == "institutions"
                                                                            else "role") + 1)
    validation = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=False,
                                showErrorMessage=True, errorTitle="类别", error="请从下拉列表中选择")
    sheet.add_data_validation(validation)
    validation.add(f"{category_column}2:{category_column}5000")
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


EXAMPLES = {
    "institutions": {
        "name": "历城区示例诊所", "uscc": "91370112MA3C00001X", "licence_no": "PDY00001-137011217D2112",
        "category": "诊所", "scope": "内科、外科", "address": "济南市历城区山大路 1 号", "street": "山大路街道",
        "legal_representative": "王某", "principal": "王某", "licence_valid_from": "2025-01-01",
        "licence_valid_to": "2029-12-31", "phone": "0531-88000000", "remote_monitoring": "否",
    },
    "staff": {
        "name": "张某", "id_number": "37010219900101001X", "role": "医师", "title": "主治医师",
        "qualification_no": "Q000001", "practice_cert_no": "P000000001", "practice_category": "临床",
        "practice_scope": "内科专业", "institution_uscc": "91370112MA3C00001X",
    },
}
