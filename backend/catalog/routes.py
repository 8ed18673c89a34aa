"""Endpoints of the product catalog."""

from flask.views import MethodView
from flask_smorest import Blueprint

from backend import db
from backend.auth.policy import ANY_ROLE, HQ, allow, current_user
from backend.catalog import service
from backend.catalog.schemas import (ImportResultSchema, ProductCreateSchema, ProductPageSchema,
                                     ProductQuerySchema, ProductSchema, ProductUpdateSchema)
from backend.common.uploads import csv_upload_doc, read_text_body

blp = Blueprint("catalog", __name__, url_prefix="/api/v1/products", description="Product catalog")


@blp.route("")
class ProductViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.arguments(ProductQuerySchema, location="query")
    @blp.response(200, ProductPageSchema)
    def get(self, query):
        """List products"""
        return service.list_products(session=db.session(), actor=current_user(), **query)

    @allow(HQ)
    @blp.arguments(ProductCreateSchema)
    @blp.response(201, ProductSchema)
    def post(self, body):
        """Create a product"""
        return service.create_product(session=db.session(), actor=current_user(), **body)


@blp.route("/import")
class ProductImportViews(MethodView):
    @allow(HQ)
    @blp.doc(**csv_upload_doc("sku,name,category,brand,price[,attributes]"))
    @blp.response(200, ImportResultSchema)
    def post(self):
        """Import products from CSV (sku,name,category,brand,price[,attributes])"""
        return service.import_products(session=db.session(), actor=current_user(),
                                       text=read_text_body("text/csv"))


@blp.route("/<string:sku>")
class ProductBySkuViews(MethodView):
    @allow(*ANY_ROLE)
    @blp.response(200, ProductSchema)
    def get(self, sku):
        """Get a product"""
        return service.get_product(session=db.session(), actor=current_user(), sku=sku)

    @allow(HQ)
    @blp.arguments(ProductUpdateSchema)
    @blp.response(200, ProductSchema)
    def patch(self, body, sku):
        """Update a product"""
        return service.update_product(session=db.session(), actor=current_user(), sku=sku,
                                      changes=body)
