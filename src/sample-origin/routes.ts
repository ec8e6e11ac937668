/**
 * The routes `npm start` uses with the sample origin, and a starting point for a routes file of
 * your own (`keel routes example` prints it).
 */
export const SAMPLE_ROUTES_YAML = `# Keel routes for the sample commerce API.
defaults:
  grace: 5m              # serve a stale answer this long when the origin fails
  timeout: 5s            # origin timeout

routes:
  # Reads: cached (GET and HEAD).
  - name: product
    path: /products/:id
    dataType: product
    ttl: origin          # follow the origin's Cache-Control (max-age=60) and revalidate by ETag
    tags: ["product:{id}"]
  - name: product-list
    path: /products
    dataType: product
    ttl: 30s
    tags: ["products"]
  - name: inventory
    path: /products/:id/inventory
    dataType: inventory
    ttl: adaptive        # Keel's adaptive TTL: inventory changes often, so it lives shortest
    tags: ["inventory:{id}"]
  - name: customer
    path: /customers/:id
    dataType: customer
    ttl: origin          # the origin says private: never stored, always passed through

  # Writes: passed through; a 2xx or 3xx answer invalidates these tags on every instance.
  - name: product-write
    path: /products/:id
    methods: [PUT, PATCH, DELETE]
    invalidates: ["product:{id}", "products", "inventory:{id}"]
  - name: inventory-write
    path: /products/:id/inventory
    methods: [PUT]
    invalidates: ["inventory:{id}"]
  - name: customer-write
    path: /customers/:id
    methods: [PUT]
`;
