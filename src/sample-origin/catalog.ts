/**
 * The sample origin's data: a small commerce catalogue in embedded PostgreSQL (PGlite, Postgres
 * compiled to WebAssembly, so `npm start` needs no database server).
 *
 * Tables: collections, products (each in one collection, with a `version` bumped on every write,
 * which is what its ETag names), inventory levels per product and location, and customers. The
 * rows are generated from their ids alone, so every start has the same catalogue.
 */
import { PGlite } from '@electric-sql/pglite';

export interface Product {
  id: number;
  handle: string;
  title: string;
  body_html: string;
  vendor: string;
  product_type: string;
  price: string;
  currency: string;
  tags: string[];
  collection_id: number;
  version: number;
  updated_at: string;
}

export interface InventoryLevel {
  product_id: number;
  location: string;
  available: number;
  updated_at: string;
}

export interface Customer {
  id: number;
  email: string;
  first_name: string;
  last_name: string;
  orders_count: number;
  total_spent: string;
  version: number;
  updated_at: string;
}

export interface CatalogSize {
  products: number;
  customers: number;
  collections: number;
}

const LOCATIONS = ['tokyo', 'osaka', 'online'];
const PRODUCT_COLUMNS =
  "id, handle, title, body_html, vendor, product_type, to_char(price_cents / 100.0, 'FM999999990.00') AS price, currency, tags, collection_id, version, updated_at";
const CUSTOMER_COLUMNS =
  "id, email, first_name, last_name, orders_count, to_char(total_spent_cents / 100.0, 'FM999999990.00') AS total_spent, version, updated_at";

const SCHEMA = `
CREATE TABLE collections (id int PRIMARY KEY, title text NOT NULL, handle text NOT NULL);
CREATE TABLE products (
  id int PRIMARY KEY, handle text NOT NULL, title text NOT NULL, body_html text NOT NULL,
  vendor text NOT NULL, product_type text NOT NULL, price_cents int NOT NULL, currency text NOT NULL,
  tags text[] NOT NULL, collection_id int NOT NULL REFERENCES collections (id),
  version int NOT NULL DEFAULT 1, updated_at timestamptz NOT NULL DEFAULT date_trunc('second', now())
);
CREATE INDEX products_collection ON products (collection_id, id);
CREATE TABLE inventory_levels (
  product_id int NOT NULL REFERENCES products (id) ON DELETE CASCADE, location text NOT NULL,
  available int NOT NULL, updated_at timestamptz NOT NULL DEFAULT date_trunc('second', now()),
  PRIMARY KEY (product_id, location)
);
CREATE TABLE customers (
  id int PRIMARY KEY, email text NOT NULL, first_name text NOT NULL, last_name text NOT NULL,
  orders_count int NOT NULL, total_spent_cents int NOT NULL, version int NOT NULL DEFAULT 1,
  updated_at timestamptz NOT NULL DEFAULT date_trunc('second', now())
);`;

/** The catalogue: the queries the sample origin's routes need, one method each. */
export class Catalog {
  private constructor(private readonly db: PGlite) {}

  /** Creates and fills an in-memory database of the given size. */
  static async create(size: CatalogSize): Promise<Catalog> {
    const db = new PGlite();
    await db.exec(SCHEMA);
    await db.query(
      `INSERT INTO collections SELECT g, 'Collection ' || g, 'collection-' || g FROM generate_series(1, $1) g`,
      [size.collections],
    );
    await db.query(
      `INSERT INTO products (id, handle, title, body_html, vendor, product_type, price_cents, currency, tags, collection_id)
       SELECT g, 'sencha-' || g, 'Organic Sencha no. ' || g,
              '<p>Steamed green tea from the first spring harvest, lot ' || (g % 97) || '.</p>',
              'Keel Tea Co.', (ARRAY['green', 'black', 'oolong', 'white'])[1 + g % 4],
              1299 + (g % 500), 'JPY', ARRAY['tea', 'lot-' || (g % 97)], 1 + g % $2
       FROM generate_series(1, $1) g`,
      [size.products, size.collections],
    );
    await db.query(
      `INSERT INTO inventory_levels (product_id, location, available)
       SELECT p, l, (p * 7 + length(l) * 13) % 250 FROM generate_series(1, $1) p, unnest($2::text[]) l`,
      [size.products, LOCATIONS],
    );
    await db.query(
      `INSERT INTO customers (id, email, first_name, last_name, orders_count, total_spent_cents)
       SELECT g, 'customer' || g || '@example.com', 'Customer', 'No. ' || g, g % 17, (g % 17) * 4200
       FROM generate_series(1, $1) g`,
      [size.customers],
    );
    return new Catalog(db);
  }

  async product(id: number): Promise<Product | undefined> {
    const { rows } = await this.db.query<Product>(`SELECT ${PRODUCT_COLUMNS} FROM products WHERE id = $1`, [
      id,
    ]);
    return rows[0];
  }

  /** A page of products, by id, optionally of one collection. */
  async products(limit: number, page: number, collectionId?: number): Promise<Product[]> {
    const { rows } = await this.db.query<Product>(
      `SELECT ${PRODUCT_COLUMNS} FROM products WHERE ($3::int IS NULL OR collection_id = $3)
       ORDER BY id LIMIT $1 OFFSET $2`,
      [limit, (page - 1) * limit, collectionId ?? null],
    );
    return rows;
  }

  /** Changes a product's title and/or price; undefined when it does not exist. */
  async updateProduct(id: number, change: { title?: string; price?: string }): Promise<Product | undefined> {
    const priceCents = change.price === undefined ? null : Math.round(Number(change.price) * 100);
    const { rows } = await this.db.query<Product>(
      `UPDATE products SET title = coalesce($2, title), price_cents = coalesce($3, price_cents),
              version = version + 1, updated_at = date_trunc('second', now())
       WHERE id = $1 RETURNING ${PRODUCT_COLUMNS}`,
      [id, change.title ?? null, priceCents],
    );
    return rows[0];
  }

  async deleteProduct(id: number): Promise<boolean> {
    const { affectedRows } = await this.db.query('DELETE FROM products WHERE id = $1', [id]);
    return (affectedRows ?? 0) > 0;
  }

  async inventory(productId: number): Promise<InventoryLevel[]> {
    const { rows } = await this.db.query<InventoryLevel>(
      'SELECT product_id, location, available, updated_at FROM inventory_levels WHERE product_id = $1 ORDER BY location',
      [productId],
    );
    return rows;
  }

  /** Sets the stock of a product at a location; undefined when the level does not exist. */
  async setInventory(
    productId: number,
    location: string,
    available: number,
  ): Promise<InventoryLevel | undefined> {
    const { rows } = await this.db.query<InventoryLevel>(
      `UPDATE inventory_levels SET available = $3, updated_at = date_trunc('second', now())
       WHERE product_id = $1 AND location = $2 RETURNING product_id, location, available, updated_at`,
      [productId, location, available],
    );
    return rows[0];
  }

  async customer(id: number): Promise<Customer | undefined> {
    const { rows } = await this.db.query<Customer>(
      `SELECT ${CUSTOMER_COLUMNS} FROM customers WHERE id = $1`,
      [id],
    );
    return rows[0];
  }

  async updateCustomer(
    id: number,
    change: { first_name?: string; last_name?: string },
  ): Promise<Customer | undefined> {
    const { rows } = await this.db.query<Customer>(
      `UPDATE customers SET first_name = coalesce($2, first_name), last_name = coalesce($3, last_name),
              version = version + 1, updated_at = date_trunc('second', now())
       WHERE id = $1 RETURNING ${CUSTOMER_COLUMNS}`,
      [id, change.first_name ?? null, change.last_name ?? null],
    );
    return rows[0];
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
