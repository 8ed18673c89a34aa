"""Schemas of the analytics endpoints."""

import marshmallow as ma
from marshmallow import validate

from backend.analytics.service import GROUPS
from backend.common.schemas import Instant, StrictSchema, Text, code_field

CAMPAIGN = ma.fields.Integer(validate=validate.Range(min=1, max=2**62))


class ExecutionQuerySchema(StrictSchema):
    campaign = CAMPAIGN
    region = code_field()
    store = code_field()
    due_from = Instant(data_key="from")
    due_to = Instant(data_key="to")
    group_by = Text(load_default="region", validate=validate.OneOf(GROUPS))
    format = Text(load_default="json", validate=validate.OneOf(["json", "csv"]))


class ExecutionRowSchema(ma.Schema):
    group = ma.fields.String(allow_none=True)
    tasks = ma.fields.Integer()
    claimed = ma.fields.Integer()
    submitted = ma.fields.Integer()
    approved = ma.fields.Integer()
    overdue = ma.fields.Integer()
    completion_rate = ma.fields.Float(allow_none=True)
    on_time_rate = ma.fields.Float(allow_none=True)
    median_claim_minutes = ma.fields.Float(allow_none=True)
    deviation_rate = ma.fields.Float(allow_none=True)
    attach_rate = ma.fields.Float(allow_none=True, metadata={
        "description": "featured-SKU transactions that also hold one of its top-5 pairings, during the campaign"})
    attach_rate_before = ma.fields.Float(allow_none=True, metadata={
        "description": "the same, over the same length of time before the campaign"})
    attach_uplift = ma.fields.Float(allow_none=True, metadata={
        "description": "attach_rate / attach_rate_before - 1"})


class ExecutionSchema(ma.Schema):
    group_by = ma.fields.String()
    rows = ma.fields.List(ma.fields.Nested(ExecutionRowSchema))
    source = ma.fields.String(metadata={
        "description": "'rollups': pre-aggregated counts kept in every writing transaction (as "
                       "current as the database read, no staleness); 'tasks': aggregated from the "
                       "tasks for this request (any filter, or a supervisor's days and clerks)"})
    median_relative_error = ma.fields.Float(metadata={
        "description": "bound on the error of median_claim_minutes relative to the exact median: "
                       "0 when exact, 0.01 for regions and days read from the rollups' histograms"})


class LeaderboardQuerySchema(StrictSchema):
    campaign = CAMPAIGN
    level = Text(load_default="store", validate=validate.OneOf(["store", "clerk"]))


class OverdueQuerySchema(StrictSchema):
    campaign = CAMPAIGN


# ---- campaign impact (SPEC §14) -------------------------------------------------------------

class ImpactQuerySchema(StrictSchema):
    campaign = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=2**62))
    format = Text(load_default="json", validate=validate.OneOf(["json", "csv"]))


def _pair_schema(name: str, field: ma.fields.Field) -> type[ma.Schema]:
    return ma.Schema.from_dict({"before": field, "during": field}, name=name)


_RatePair = _pair_schema("ImpactRatePair", ma.fields.Float(allow_none=True))
_CountPair = _pair_schema("ImpactCountPair", ma.fields.Integer())


def _groups_schema(name: str, pair: type[ma.Schema]) -> type[ma.Schema]:
    return ma.Schema.from_dict({"treated": ma.fields.Nested(pair), "control": ma.fields.Nested(pair)},
                               name=name)


_Rates = _groups_schema("ImpactGroupRates", _RatePair)
_Counts = _groups_schema("ImpactGroupCounts", _CountPair)


class ImpactStoreCountSchema(ma.Schema):
    treated = ma.fields.Integer()
    control = ma.fields.Integer()


class ImpactFigureSchema(ma.Schema):
    """One outcome measured as a difference in differences."""

    treated = ma.fields.Nested(_RatePair, metadata={"description": "the treated stores' figure before and during"})
    control = ma.fields.Nested(_RatePair, metadata={"description": "the control stores' figure before and during"})
    uplift_did = ma.fields.Float(allow_none=True, metadata={
        "description": "(treated during - treated before) - (control during - control before)"})
    ci95 = ma.fields.List(ma.fields.Float(), allow_none=True, metadata={
        "description": "95 % store-level bootstrap interval of uplift_did [low, high]"})
    uplift_relative = ma.fields.Float(allow_none=True, metadata={
        "description": "uplift_did / (treated before + control during - control before)"})
    ci95_relative = ma.fields.List(ma.fields.Float(), allow_none=True)
    naive_uplift = ma.fields.Float(allow_none=True, metadata={
        "description": "treated during - treated before: the before/after comparison without "
                       "control stores (season included), shown for contrast"})
    resamples = ma.fields.Integer(metadata={"description": "bootstrap resamples behind ci95"})
    reason = ma.fields.String(allow_none=True, metadata={
        "description": "why a figure is null (null when everything was computed)"})
    transactions = ma.fields.Nested(_Counts, allow_none=True, metadata={
        "description": "transactions with a featured SKU per group and window"})
    stores = ma.fields.Nested(ImpactStoreCountSchema)
    method = ma.fields.String()


class ImpactAttachSchema(ImpactFigureSchema):
    attached = ma.fields.Nested(_Counts, allow_none=True, metadata={
        "description": "of those, transactions that also hold one of the SKU's top-5 pairings"})


class ImpactSalesSchema(ImpactFigureSchema):
    units = ma.fields.Nested(_Counts, allow_none=True, metadata={
        "description": "featured-SKU units sold per group and window"})


class ImpactTaskCountsSchema(ma.Schema):
    total = ma.fields.Integer(metadata={"description": "non-cancelled tasks"})
    submitted = ma.fields.Integer()
    approved = ma.fields.Integer()
    on_time = ma.fields.Integer()
    deviated = ma.fields.Integer()


class ImpactCampaignSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    title = ma.fields.String()
    status = ma.fields.String()
    starts_at = ma.fields.AwareDateTime()
    ends_at = ma.fields.AwareDateTime()
    featured_skus = ma.fields.List(ma.fields.String())


class ImpactSpanSchema(ma.Schema):
    start = ma.fields.AwareDateTime()
    end = ma.fields.AwareDateTime()


class ImpactWindowsSchema(ma.Schema):
    before = ma.fields.Nested(ImpactSpanSchema)
    during = ma.fields.Nested(ImpactSpanSchema)
    days = ma.fields.Float()
    during_cut_at_now = ma.fields.Boolean()


class ImpactSelectionSchema(ma.Schema):
    rule = ma.fields.String()
    explanation = ma.fields.String()
    regions = ma.fields.List(ma.fields.String())
    reached = ma.fields.Integer()
    candidates = ma.fields.Integer()
    excluded_without_sales_in_both_windows = ma.fields.Integer()


class ImpactDayGroupSchema(ma.Schema):
    transactions = ma.fields.Integer()
    attached = ma.fields.Integer()
    units = ma.fields.Integer()
    attach_rate = ma.fields.Float(allow_none=True)
    units_per_store = ma.fields.Float(allow_none=True)


class ImpactDaySchema(ma.Schema):
    day = ma.fields.Integer()
    start = ma.fields.AwareDateTime()
    window = ma.fields.String()
    treated = ma.fields.Nested(ImpactDayGroupSchema)
    control = ma.fields.Nested(ImpactDayGroupSchema)


class ImpactStoreSchema(ma.Schema):
    store = ma.fields.String()
    region = ma.fields.String()
    group = ma.fields.String()
    featured_transactions_before = ma.fields.Integer()
    attached_before = ma.fields.Integer()
    attach_rate_before = ma.fields.Float(allow_none=True)
    featured_units_before = ma.fields.Integer()
    featured_transactions_during = ma.fields.Integer()
    attached_during = ma.fields.Integer()
    attach_rate_during = ma.fields.Float(allow_none=True)
    featured_units_during = ma.fields.Integer()


class ImpactSchema(ma.Schema):
    campaign = ma.fields.Nested(ImpactCampaignSchema)
    completion_rate = ma.fields.Float(allow_none=True, metadata={"description": "approved / non-cancelled tasks"})
    on_time_rate = ma.fields.Float(allow_none=True, metadata={"description": "submitted by due / submitted"})
    deviation_rate = ma.fields.Float(allow_none=True, metadata={
        "description": "submissions off the promo price or missing required proof / submitted"})
    tasks = ma.fields.Nested(ImpactTaskCountsSchema)
    reasons = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), metadata={
        "description": "why a rate above is null"})
    stores_treated = ma.fields.Integer()
    stores_control = ma.fields.Integer()
    windows = ma.fields.Nested(ImpactWindowsSchema, allow_none=True)
    treated_selection = ma.fields.Nested(ImpactSelectionSchema, allow_none=True)
    control_selection = ma.fields.Nested(ImpactSelectionSchema, allow_none=True)
    attach = ma.fields.Nested(ImpactAttachSchema)
    featured_sales_per_store = ma.fields.Nested(ImpactSalesSchema)
    timeline = ma.fields.List(ma.fields.Nested(ImpactDaySchema))
    stores = ma.fields.List(ma.fields.Nested(ImpactStoreSchema))
