"""The demo chain's vocabulary: regions, cities, brands and product lines of a cosmetics retailer."""

REGIONS = [
    ("EAST", "华东 East"), ("NORTH", "华北 North"), ("SOUTH", "华南 South"),
    ("WEST", "西南 Southwest"), ("CENTRAL", "华中 Central"),
]

CITIES = {
    "EAST": ["上海", "杭州", "南京", "苏州", "宁波", "合肥"],
    "NORTH": ["北京", "天津", "济南", "青岛", "石家庄", "沈阳"],
    "SOUTH": ["广州", "深圳", "厦门", "福州", "南宁", "海口"],
    "WEST": ["成都", "重庆", "昆明", "贵阳", "西安", "乌鲁木齐"],
    "CENTRAL": ["武汉", "长沙", "郑州", "南昌", "太原", "洛阳"],
}

# Ürümqi keeps local (Xinjiang) time in many shops; the rest follow Beijing time.
CITY_TIMEZONES = {"乌鲁木齐": "Asia/Urumqi"}

STORE_KINDS = [("万达广场店", ["mall"]), ("旗舰店", ["flagship", "mall"]), ("步行街店", ["street"]),
               ("奥莱店", ["outlet"]), ("机场店", ["travel"]), ("天街店", ["mall"])]

BRANDS = ["Lumière", "花西子 Florasis", "Maison Rosé", "Yunshan 云杉", "Aqua Veil", "Kōbō",
          "Jade Dew 玉露", "Nordlys"]

# category -> (product line names, price range in CNY)
PRODUCT_LINES = {
    "lipstick": (["丝绒哑光口红 Velvet Matte Lipstick", "水光唇釉 Glossy Lip Glaze",
                  "滋润唇膏 Balm Lipstick", "雾面唇泥 Lip Mud"], (89, 399)),
    "foundation": (["持妆粉底液 Long-wear Foundation", "气垫粉底 Cushion Foundation",
                    "轻薄粉底霜 Skin Tint"], (159, 620)),
    "mascara": (["纤长睫毛膏 Lengthening Mascara", "浓密睫毛膏 Volume Mascara"], (79, 299)),
    "eyeshadow": (["九色眼影盘 9-Pan Eyeshadow Palette", "单色眼影 Mono Eyeshadow"], (99, 560)),
    "serum": (["精华液 Radiance Serum", "修护精华 Repair Serum", "维C精华 Vitamin C Serum"],
              (260, 1380)),
    "cleanser": (["氨基酸洁面 Amino Cleanser", "卸妆油 Cleansing Oil", "洁面泡沫 Foam Cleanser"],
                 (69, 320)),
    "moisturizer": (["保湿面霜 Hydrating Cream", "修护乳液 Repair Emulsion", "眼霜 Eye Cream"],
                    (180, 1650)),
    "sunscreen": (["清爽防晒乳 Light Sunscreen SPF50", "隔离防晒霜 Primer SPF35"], (99, 420)),
    "fragrance": (["淡香水 Eau de Toilette 50ml", "香水 Eau de Parfum 30ml"], (390, 1580)),
    "tools": (["化妆刷套装 Brush Set", "美妆蛋 Beauty Sponge", "睫毛夹 Lash Curler"], (29, 360)),
}

SHADES = ["#01", "#02", "#05", "#08", "#12", "#15", "#21", "#33", "#66", "#88"]

# Why people come into a cosmetics shop, and what each errand buys: (category, chance) steps,
# and how often the shopper keeps to one brand across the steps. The demo POS history follows these.
SHOPPING_MISSIONS = {
    "skincare routine": {"weight": 0.30, "loyalty": 0.65,
                         "steps": [("cleanser", 0.55), ("serum", 0.5), ("moisturizer", 0.7),
                                   ("sunscreen", 0.3)]},
    "base make-up": {"weight": 0.20, "loyalty": 0.5,
                     "steps": [("foundation", 0.9), ("tools", 0.45), ("sunscreen", 0.2),
                               ("mascara", 0.15)]},
    "eye look": {"weight": 0.14, "loyalty": 0.55,
                 "steps": [("eyeshadow", 0.8), ("mascara", 0.65), ("cleanser", 0.15)]},
    "lip shopping": {"weight": 0.20, "loyalty": 0.5,
                     "steps": [("lipstick", 1.0), ("lipstick", 0.35), ("tools", 0.1)]},
    "gift": {"weight": 0.08, "loyalty": 0.7,
             "steps": [("fragrance", 0.9), ("lipstick", 0.45), ("moisturizer", 0.15)]},
    "refill": {"weight": 0.08, "loyalty": 0.8,
               "steps": [("serum", 0.3), ("cleanser", 0.3), ("sunscreen", 0.2), ("mascara", 0.2)]},
}
