"""Demo catalogue for a fictional Mexican IT wholesaler ("Mayoreo TI").

Kept as plain Python so the seed, the NLU lookup tables and the tests share one source.
"""
from __future__ import annotations

# Branch id -> (name, city, address, phone, latitude, longitude)
BRANCHES: dict[str, dict] = {
    "gdl": {
        "name": "Guadalajara",
        "address": "Av. López Mateos Sur 2077, Col. Chapalita, Guadalajara, Jal.",
        "phone": "+52 33 3100 2000",
        "lat": 20.6597,
        "lon": -103.3496,
        "aliases": ["guadalajara", "gdl", "guanatos", "jalisco", "zapopan"],
    },
    "mty": {
        "name": "Monterrey",
        "address": "Av. Constitución 1500 Ote., Col. Centro, Monterrey, N.L.",
        "phone": "+52 81 8100 3000",
        "lat": 25.6866,
        "lon": -100.3161,
        "aliases": ["monterrey", "mty", "monterey", "nuevo leon", "nuevo león", "regio"],
    },
    "pue": {
        "name": "Puebla",
        "address": "Blvd. Atlixco 3101, Col. Nueva Antequera, Puebla, Pue.",
        "phone": "+52 222 100 4000",
        "lat": 19.0414,
        "lon": -98.2063,
        "aliases": ["puebla", "pue", "puebla de zaragoza"],
    },
    "mid": {
        "name": "Mérida",
        "address": "Calle 60 No. 350, Col. Centro, Mérida, Yuc.",
        "phone": "+52 999 100 5000",
        "lat": 20.9674,
        "lon": -89.5926,
        "aliases": ["merida", "mérida", "mid", "yucatan", "yucatán"],
    },
    "cdmx": {
        "name": "Ciudad de México",
        "address": "Av. Insurgentes Sur 1800, Col. Florida, Álvaro Obregón, CDMX",
        "phone": "+52 55 5100 1000",
        "lat": 19.4326,
        "lon": -99.1332,
        "aliases": [
            "ciudad de mexico",
            "ciudad de méxico",
            "cdmx",
            "df",
            "d.f.",
            "mexico city",
            "mexico df",
            "la ciudad",
            "chilangolandia",
        ],
    },
}

# (sku, name, category, price MXN, aliases people type)
PRODUCTS: list[tuple[str, str, str, float, list[str]]] = [
    ("CF258A", "Tóner HP 58A negro", "consumibles", 2150.0, ["toner hp 58a", "toner 58a", "hp 58a", "cartucho 58a"]),
    ("CF258X", "Tóner HP 58X negro alto rendimiento", "consumibles", 3290.0, ["toner 58x", "hp 58x"]),
    ("CE285A", "Tóner HP 85A negro", "consumibles", 1450.0, ["toner 85a", "hp 85a"]),
    ("TN660", "Tóner Brother TN-660", "consumibles", 1390.0, ["tn660", "tn-660", "toner brother"]),
    ("T544120", "Botella de tinta Epson T544 negra", "consumibles", 189.0, ["tinta epson", "botella epson", "t544"]),
    ("L3250", "Multifuncional Epson EcoTank L3250", "impresion", 4299.0, ["ecotank l3250", "epson l3250", "l3250"]),
    ("M404DN", "Impresora HP LaserJet Pro M404dn", "impresion", 6890.0, ["laserjet m404", "hp m404dn", "m404"]),
    ("HL1212W", "Impresora Brother HL-1212W", "impresion", 2790.0, ["brother hl1212", "hl-1212w"]),
    ("TP-ARCHERC6", "Router TP-Link Archer C6", "redes", 749.0, ["archer c6", "router tp-link", "router tplink"]),
    ("TL-SG108", "Switch TP-Link TL-SG108 8 puertos", "redes", 529.0, ["switch tp-link 8 puertos", "sg108", "switch de 8 puertos"]),
    ("UAP-AC-LITE", "Access point Ubiquiti UniFi AC Lite", "redes", 2390.0, ["unifi ac lite", "access point ubiquiti", "ap unifi"]),
    ("CAT6-305", "Bobina cable UTP Cat6 305 m", "redes", 2890.0, ["cable cat6", "bobina cat6", "cable utp"]),
    ("LEN-V15", "Laptop Lenovo V15 G4 Ryzen 5 8GB 512GB", "computo", 10999.0, ["lenovo v15", "laptop lenovo"]),
    ("HP-250G9", "Laptop HP 250 G9 Core i5 8GB 256GB", "computo", 11499.0, ["hp 250 g9", "laptop hp 250"]),
    ("DELL-V3520", "Laptop Dell Vostro 3520 Core i5 16GB 512GB", "computo", 14299.0, ["dell vostro", "vostro 3520"]),
    ("AS-A515", "Laptop Acer Aspire 5 Core i7 16GB 1TB", "computo", 15999.0, ["acer aspire 5", "aspire 5"]),
    ("OPT-7010", "PC Dell OptiPlex 7010 SFF Core i5", "computo", 13899.0, ["optiplex 7010", "dell optiplex"]),
    ("MON-24LG", "Monitor LG 24MK430H 24 pulgadas", "computo", 2299.0, ["monitor lg 24", "monitor lg"]),
    ("MON-27SAM", "Monitor Samsung 27 pulgadas curvo", "computo", 3599.0, ["monitor samsung", "monitor curvo"]),
    ("KIN-SSD480", "SSD Kingston A400 480GB", "almacenamiento", 599.0, ["ssd kingston", "kingston 480", "disco ssd"]),
    ("WD-1TB-BLUE", "Disco duro WD Blue 1TB", "almacenamiento", 899.0, ["wd blue", "disco duro 1tb"]),
    ("KIN-8GB-DDR4", "Memoria RAM Kingston 8GB DDR4", "almacenamiento", 449.0, ["ram 8gb", "memoria ram", "memoria kingston"]),
    ("USB-SAN64", "Memoria USB SanDisk 64GB", "almacenamiento", 149.0, ["usb 64gb", "memoria usb", "sandisk 64"]),
    ("APC-BX1000", "No break APC Back-UPS 1000VA", "energia", 2690.0, ["no break apc", "nobreak", "ups apc"]),
    ("CDP-R-AVR", "Regulador CDP R-AVR 1008", "energia", 389.0, ["regulador cdp", "regulador"]),
    ("LOG-MK270", "Kit teclado y mouse Logitech MK270", "accesorios", 499.0, ["mk270", "kit logitech", "teclado y mouse"]),
    ("LOG-M170", "Mouse inalámbrico Logitech M170", "accesorios", 189.0, ["mouse logitech", "m170", "raton logitech"]),
    ("HEAD-H390", "Diadema Logitech H390 USB", "accesorios", 599.0, ["diadema logitech", "h390", "audifonos logitech"]),
    ("WEB-C920", "Cámara web Logitech C920", "accesorios", 1499.0, ["webcam c920", "camara c920", "c920"]),
    ("MS-OFF-HB", "Microsoft Office Hogar y Empresas 2021", "software", 5299.0, ["office 2021", "microsoft office"]),
    ("ESET-3U", "ESET Internet Security 3 usuarios", "software", 899.0, ["eset", "antivirus eset"]),
    ("VGA-RTX3060", "Tarjeta de video MSI RTX 3060 12GB", "computo", 7299.0, ["rtx 3060", "tarjeta de video"]),
]
