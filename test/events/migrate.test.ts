import { describe, expect, inject, it } from "vitest";
import { createSql } from "../../lib/db/client.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { migrations } from "../../lib/db/migrations/index.ts";

describe("migrate", () => {
  it("applies every migration once when several processes start at the same time", async () => {
    const admin = createSql(inject("postgresUrl"), { max: 1 });
    const name = `eventbus_migrate_${Date.now()}`;
    await admin.unsafe(`create database ${name}`);
    const url = new URL(inject("postgresUrl"));
    url.pathname = `/${name}`;
    const clients = Array.from({ length: 4 }, () => createSql(url.toString(), { max: 1 }));
    try {
      const applied = await Promise.all(clients.map((sql) => migrate(sql)));
      expect(applied.flat().sort()).toEqual(migrations.map((m) => m.id).sort());
      expect(applied.filter((ids) => ids.length > 0)).toHaveLength(1);
      const rows = await clients[0]!`select id from eventbus.migrations order by id`;
      expect(rows.map((r) => r.id)).toEqual(migrations.map((m) => m.id));
      expect(await migrate(clients[0]!)).toEqual([]);
    } finally {
      await Promise.all(clients.map((sql) => sql.end()));
      await admin.end();
    }
  });
});
