"""Every label of the back office, in English and Simplified Chinese, and how a request's language
is chosen: the ``fs_lang`` cookie set by the switch, else the browser's Accept-Language, else
English. Pure. ``tests/web/test_i18n.py`` checks that both catalogues have the same keys and that
every key a template names exists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

__all__ = ["CATALOGUES", "LANGS", "LANG_COOKIE", "Lang", "choose", "translator", "value_translator"]

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")
LANG_COOKIE = "fs_lang"

EN: dict[str, str] = {
    "app_name": "fieldsync back office",
    "nav_sync": "Sync",
    "nav_master": "Master data",
    "nav_planning": "Planning",
    "nav_orders": "Sales → production",
    "nav_procurement": "Procurement",
    "signed_in_as": "Signed in as",
    "logout": "Log out",
    "login_title": "Sign in",
    "login_token": "Back-office token",
    "login_hint": "Paste the bootstrap token (FIELDSYNC_BOOTSTRAP_TOKEN) or the token of an enrolled "
                  "back-office device. The session lasts 12 hours and ends when the device is revoked.",
    "login_submit": "Sign in",
    "error_title": "Something needs your attention",
    "back_home": "Back to the back office",
    "yes": "yes",
    "no": "no",
    "none": "Nothing here.",
    "page": "Page",
    "previous": "Previous",
    "next": "Next",
    "filter": "Filter",
    "filter_hint": "part of a code or name",
    "search": "Search",
    "no_rows": "No rows match this filter.",
    "late": "late",
    # sync
    "sync_title": "Devices, quarantine and conflicts",
    "devices_active": "Active devices",
    "devices_revoked": "Revoked devices",
    "not_enrolled": "waiting for enrolment",
    "revoke": "Revoke",
    "revoke_confirm": "Revoke the device of",
    "quarantine_title": "Rejected changes (quarantine)",
    "quarantine_hint": "Changes the server refused, with who sent them and why. The device has already "
                       "undone them; fix the cause with its user.",
    "conflicts_title": "Conflicts",
    "conflicts_hint": "Status changes that tried to go backwards; the current value was kept.",
    "col_user": "User",
    "col_role": "Role",
    "col_warehouse": "Warehouse",
    "col_enrolled": "Enrolled",
    "col_last_seen": "Last seen",
    "col_acked_seq": "Acked seq",
    "col_device_id": "Device id",
    "col_revoked": "Revoked",
    "col_received": "Received",
    "col_table": "Table",
    "col_reason": "Reason",
    "col_detail": "Detail",
    "col_change": "Change as sent",
    "col_column": "Column",
    "col_attempted": "Attempted",
    "col_current": "Kept",
    "role_sales": "sales",
    "role_warehouse": "warehouse",
    "role_backoffice": "back office",
    # master data
    "master_title": "Master data",
    "kind_products": "Products",
    "kind_customers": "Customers",
    "kind_suppliers": "Suppliers",
    "kind_price-agreements": "Price agreements",
    "kind_warehouses": "Warehouses",
    "col_sku": "SKU",
    "col_name": "Name",
    "col_kind": "Kind",
    "col_uom": "Unit",
    "col_lead_time_days": "Lead time (days)",
    "col_safety_stock": "Safety stock",
    "col_lot_rule": "Lot rule",
    "col_lot_qty": "Lot qty",
    "col_standard_cost": "Standard cost",
    "col_barcode": "Barcode",
    "col_code": "Code",
    "col_owner": "Owner",
    "col_phone": "Phone",
    "col_address": "Address",
    "col_capacity_per_week": "Capacity / week",
    "col_blocked": "Blocked",
    "col_supplier": "Supplier",
    "col_min_qty": "From qty",
    "col_unit_price": "Unit price",
    "col_valid_from": "Valid from",
    "col_valid_to": "Valid to",
    "col_priority": "Priority",
    "kind_value_make": "make",
    "kind_value_buy": "buy",
    "kind_value_subcontract": "subcontract",
    "kind_value_purchase": "purchase",
    "used_in": "Used in",
    "stock_title": "Stock",
    "col_on_hand": "On hand",
    "col_available": "Available",
    "col_buildable": "Buildable",
    "bom_title": "Bill of materials, all levels",
    "bom_hint": "Total per unit includes scrap at every level. Click a component to open its own BOM.",
    "no_bom": "This product has no BOM.",
    "col_level": "Level",
    "col_qty_per": "Qty per",
    "col_scrap_pct": "Scrap %",
    "col_total_per_unit": "Total per unit",
    # planning
    "planning_title": "Planning",
    "mrp_runs": "MRP runs",
    "mrp_run": "MRP run",
    "planning_day": "Planning day",
    "run_mrp": "Run MRP now",
    "run_mrp_hint": "Plans the data as it is now and keeps the run.",
    "no_runs": "No MRP run yet: run one above.",
    "compare": "Compare",
    "compare_a": "Run A (older)",
    "compare_b": "Run B (newer)",
    "compare_title": "Compare two MRP runs",
    "inputs_differ": "The runs planned different data",
    "inputs_same": "The runs planned the same data",
    "qty_changes": "Planned quantity per product and warehouse",
    "no_differences": "No differences.",
    "orders_added": "Orders only in B",
    "orders_removed": "Orders only in A",
    "orders_changed": "Orders in both that changed",
    "col_created": "Created",
    "col_requested_by": "Requested by",
    "col_planned_orders": "Planned orders",
    "col_exceptions": "Exceptions",
    "col_input_version": "Input version",
    "col_qty": "Qty",
    "col_start": "Start",
    "col_due": "Due",
    "col_pegging": "Pegged to",
    "col_difference": "B − A",
    "col_fields": "Changed",
    "exc_late": "late",
    "exc_no_supplier": "no supplier",
    "exc_negative_stock": "negative stock",
    "kitting_title": "Kitting check",
    "kitting_hint": "How many units the stock of a warehouse can build through the whole BOM, which "
                    "component runs out first, and how many more the receipts due by a date allow.",
    "col_product": "Product",
    "kitting_by": "Receipts due by (optional)",
    "kitting_check": "Check",
    "buildable_by": "Buildable by",
    "extra_by": "More by then",
    "incoming_by": "Own receipts by then",
    "limiting_now": "Runs out first (for one more unit now)",
    "limiting_by": "Runs out first by",
    "col_required": "Required",
    "col_short": "Short",
    # sales orders -> production orders
    "orders_title": "Sales orders → production orders",
    "orders_hint": "Tick the make-to-order sales orders to produce and create their production orders in "
                   "one step. The sales orders move to scheduled, which their reps see on the next sync.",
    "open_sales_orders": "Open make-to-order sales orders",
    "no_open_orders": "No submitted or confirmed sales order with a make line.",
    "col_number": "Number",
    "col_customer": "Customer",
    "col_status": "Status",
    "col_make_lines": "Make lines",
    "combine": "One production order per product, warehouse and due date",
    "create_production": "Create production orders",
    "created_production": "Production orders just created",
    "production_orders": "Production orders",
    "status_draft": "draft",
    "status_submitted": "submitted",
    "status_confirmed": "confirmed",
    "status_scheduled": "scheduled",
    "status_in_production": "in production",
    "status_ready": "ready",
    "status_shipped": "shipped",
    "status_delivered": "delivered",
    "status_cancelled": "cancelled",
    "status_planned": "planned",
    "status_released": "released",
    "status_done": "done",
    # messages
    "msg_logged_out": "You are signed out.",
    "msg_login_required": "Please sign in with a back-office token.",
    "msg_created": "Created {n} production order(s); {m} sales order(s) are now scheduled.",
    "err_token_missing": "Paste a token into the field, then sign in.",
    "err_token_unknown": "This token is unknown or its device was revoked. Check it, or ask an "
                         "administrator for a back-office device.",
    "err_token_role": "This token belongs to a {role} device. The back office needs the bootstrap token "
                      "or a back-office device's token.",
    "err_cross_site": "This form was sent from another site and was refused. Reload the page and try again.",
    "err_no_orders": "Tick at least one sales order, then create.",
    "err_bad_date": "Enter the date as YYYY-MM-DD.",
    "err_pick_runs": "Choose two runs to compare.",
    "err_no_product": "There is no product with this SKU.",
}

ZH: dict[str, str] = {
    "app_name": "fieldsync 后台",
    "nav_sync": "同步",
    "nav_master": "基础资料",
    "nav_planning": "计划",
    "nav_orders": "销售订单 → 生产任务",
    "nav_procurement": "采购",
    "signed_in_as": "当前用户",
    "logout": "退出",
    "login_title": "登录",
    "login_token": "后台令牌",
    "login_hint": "粘贴引导令牌（FIELDSYNC_BOOTSTRAP_TOKEN）或已注册后台设备的令牌。会话有效 12 小时，"
                  "设备被吊销后立即失效。",
    "login_submit": "登录",
    "error_title": "请处理以下问题",
    "back_home": "返回后台",
    "yes": "是",
    "no": "否",
    "none": "暂无数据。",
    "page": "第",
    "previous": "上一页",
    "next": "下一页",
    "filter": "筛选",
    "filter_hint": "编码或名称的一部分",
    "search": "查询",
    "no_rows": "没有符合筛选条件的记录。",
    "late": "延迟",
    # sync
    "sync_title": "设备、隔离区与冲突",
    "devices_active": "在用设备",
    "devices_revoked": "已吊销设备",
    "not_enrolled": "等待注册",
    "revoke": "吊销",
    "revoke_confirm": "确定吊销此用户的设备：",
    "quarantine_title": "被拒绝的更改（隔离区）",
    "quarantine_hint": "服务器拒绝的更改，包括发送者和原因。设备已撤销这些更改；请与其用户一起排查原因。",
    "conflicts_title": "冲突",
    "conflicts_hint": "试图回退的状态更改；已保留当前值。",
    "col_user": "用户",
    "col_role": "角色",
    "col_warehouse": "仓库",
    "col_enrolled": "注册时间",
    "col_last_seen": "最近在线",
    "col_acked_seq": "已确认序号",
    "col_device_id": "设备 ID",
    "col_revoked": "吊销时间",
    "col_received": "接收时间",
    "col_table": "数据表",
    "col_reason": "原因",
    "col_detail": "说明",
    "col_change": "原始更改",
    "col_column": "字段",
    "col_attempted": "尝试值",
    "col_current": "保留值",
    "role_sales": "销售",
    "role_warehouse": "仓库",
    "role_backoffice": "后台",
    # master data
    "master_title": "基础资料",
    "kind_products": "物料",
    "kind_customers": "客户",
    "kind_suppliers": "供应商",
    "kind_price-agreements": "价格协议",
    "kind_warehouses": "仓库",
    "col_sku": "物料编码",
    "col_name": "名称",
    "col_kind": "类型",
    "col_uom": "单位",
    "col_lead_time_days": "提前期（天）",
    "col_safety_stock": "安全库存",
    "col_lot_rule": "批量规则",
    "col_lot_qty": "批量",
    "col_standard_cost": "标准成本",
    "col_barcode": "条码",
    "col_code": "编码",
    "col_owner": "负责人",
    "col_phone": "电话",
    "col_address": "地址",
    "col_capacity_per_week": "周产能",
    "col_blocked": "已冻结",
    "col_supplier": "供应商",
    "col_min_qty": "起订量",
    "col_unit_price": "单价",
    "col_valid_from": "生效日期",
    "col_valid_to": "失效日期",
    "col_priority": "优先级",
    "kind_value_make": "自制",
    "kind_value_buy": "外购",
    "kind_value_subcontract": "委外",
    "kind_value_purchase": "采购",
    "used_in": "被用于",
    "stock_title": "库存",
    "col_on_hand": "现存量",
    "col_available": "可用量",
    "col_buildable": "可齐套数",
    "bom_title": "物料清单（全部层级）",
    "bom_hint": "单位总用量已含各层损耗。点击子件可查看其物料清单。",
    "no_bom": "此物料没有物料清单。",
    "col_level": "层级",
    "col_qty_per": "单位用量",
    "col_scrap_pct": "损耗率 %",
    "col_total_per_unit": "单位总用量",
    # planning
    "planning_title": "计划",
    "mrp_runs": "MRP 运算",
    "mrp_run": "MRP 运算",
    "planning_day": "计划日期",
    "run_mrp": "立即运行 MRP",
    "run_mrp_hint": "按当前数据运算并保存结果。",
    "no_runs": "尚无 MRP 运算：请在上方运行。",
    "compare": "对比",
    "compare_a": "运算 A（较早）",
    "compare_b": "运算 B（较新）",
    "compare_title": "对比两次 MRP 运算",
    "inputs_differ": "两次运算的数据不同",
    "inputs_same": "两次运算的数据相同",
    "qty_changes": "按物料和仓库的计划数量",
    "no_differences": "没有差异。",
    "orders_added": "仅在 B 中的订单",
    "orders_removed": "仅在 A 中的订单",
    "orders_changed": "两者都有但有变化的订单",
    "col_created": "创建时间",
    "col_requested_by": "运行人",
    "col_planned_orders": "计划订单",
    "col_exceptions": "异常",
    "col_input_version": "数据版本",
    "col_qty": "数量",
    "col_start": "开始日期",
    "col_due": "需求日期",
    "col_pegging": "对应需求",
    "col_difference": "B − A",
    "col_fields": "变化项",
    "exc_late": "延迟",
    "exc_no_supplier": "无供应商",
    "exc_negative_stock": "负库存",
    "kitting_title": "齐套分析",
    "kitting_hint": "按整套物料清单计算仓库现有库存可生产多少套、哪个子件最先短缺，以及到某日期到货后还能多做多少套。",
    "col_product": "物料",
    "kitting_by": "到货截止日期（可选）",
    "kitting_check": "分析",
    "buildable_by": "届时可齐套数",
    "extra_by": "届时可增加",
    "incoming_by": "届时本物料到货",
    "limiting_now": "最先短缺（现在再多做一套）",
    "limiting_by": "最先短缺，截至",
    "col_required": "需求量",
    "col_short": "缺口",
    # sales orders -> production orders
    "orders_title": "销售订单 → 生产任务单",
    "orders_hint": "勾选要生产的按单生产销售订单，一步批量新增生产任务单。销售订单状态变为已排产，"
                   "业务员下次同步即可看到。",
    "open_sales_orders": "未排产的按单生产销售订单",
    "no_open_orders": "没有含自制物料的已提交或已确认销售订单。",
    "col_number": "单号",
    "col_customer": "客户",
    "col_status": "状态",
    "col_make_lines": "自制物料行",
    "combine": "按物料、仓库和交期合并为一张生产任务单",
    "create_production": "批量新增生产任务单",
    "created_production": "刚创建的生产任务单",
    "production_orders": "生产任务单",
    "status_draft": "草稿",
    "status_submitted": "已提交",
    "status_confirmed": "已确认",
    "status_scheduled": "已排产",
    "status_in_production": "生产中",
    "status_ready": "待发货",
    "status_shipped": "已发货",
    "status_delivered": "已送达",
    "status_cancelled": "已取消",
    "status_planned": "计划",
    "status_released": "已下达",
    "status_done": "已完工",
    # messages
    "msg_logged_out": "您已退出。",
    "msg_login_required": "请使用后台令牌登录。",
    "msg_created": "已创建 {n} 张生产任务单；{m} 张销售订单已排产。",
    "err_token_missing": "请先在输入框中粘贴令牌，再登录。",
    "err_token_unknown": "此令牌未知或其设备已被吊销。请检查令牌，或请管理员为您创建后台设备。",
    "err_token_role": "此令牌属于{role}设备。后台需要引导令牌或后台设备的令牌。",
    "err_cross_site": "此表单来自其他网站，已被拒绝。请刷新页面后重试。",
    "err_no_orders": "请至少勾选一张销售订单，再创建。",
    "err_bad_date": "请按 YYYY-MM-DD 格式输入日期。",
    "err_pick_runs": "请选择两次运算进行对比。",
    "err_no_product": "没有此物料编码的物料。",
}

CATALOGUES: dict[Lang, dict[str, str]] = {"en": EN, "zh": ZH}


def translator(lang: Lang) -> Callable[..., str]:
    """``t(key, **values)``: the label in ``lang``, with ``{name}`` fields filled in. A key missing
    from the catalogue is a bug, so it raises."""
    catalogue = CATALOGUES[lang]

    def t(key: str, **values: object) -> str:
        text = catalogue[key]
        return text.format(**values) if values else text

    return t


def value_translator(lang: Lang) -> Callable[[str, object], str]:
    """``tv(prefix, value)``: a stored value (a status, a kind) in words when the catalogue knows
    it, else the value itself, so a new status still shows."""
    catalogue = CATALOGUES[lang]

    def tv(prefix: str, value: object) -> str:
        text = "" if value is None else str(value)
        return catalogue.get(prefix + text, text)

    return tv


def choose(cookie: str | None, accept_language: str | None) -> Lang:
    """The switch's cookie wins; else the first of Accept-Language's languages (by q) that we
    speak; any Chinese tag reads Simplified Chinese; else English."""
    if cookie in LANGS:
        return cookie  # type: ignore[return-value]
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "")[:500].split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        base = tag.split("-")[0]
        if base == "zh":
            return "zh"
        if base == "en":
            return "en"
    return "en"
