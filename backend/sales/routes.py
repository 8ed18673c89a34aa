"""Endpoint of the POS sales import."""

from flask.views import MethodView
from flask_smorest import Blueprint

from backend import db
from backend.auth.policy import HQ, allow, current_user
from backend.common.uploads import csv_upload_doc, text_body_stream
from backend.sales import service
from backend.sales.schemas import SalesImportResultSchema

blp = Blueprint("sales", __name__, url_prefix="/api/v1/sales", description="POS sales lines")


@blp.route("/import")
class SalesImportViews(MethodView):
    @allow(HQ)
    @blp.doc(**csv_upload_doc("transaction_id,store_code,sku,quantity,sold_at"))
    @blp.response(200, SalesImportResultSchema)
    def post(self):
        """Import sales lines (CSV: transaction_id,store_code,sku,quantity,sold_at)"""
        return service.import_sales(session=db.session(), actor=current_user(),
                                    stream=text_body_stream("text/csv"))
