-- The application's table, captured with PUT /captures/orders {"table": "public.orders", "replicaIdentityFull": true}
create table if not exists orders (
  id bigint primary key,
  customer text not null,
  total numeric(12, 2) not null
);

-- The derived table the order_totals operator keeps up to date.
create table if not exists order_totals (
  customer text primary key,
  orders int not null,
  total numeric(14, 2) not null
);
