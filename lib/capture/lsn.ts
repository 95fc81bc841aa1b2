/** A Postgres LSN (`16/B374D848`) as a number that orders correctly. */
export function lsnValue(lsn: string): bigint {
  const [high = "0", low = "0"] = lsn.split("/");
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

/** An LSN in Postgres' canonical text form (no padding), as `pg_lsn` prints it. */
export function lsnText(lsn: string): string {
  return formatLsn(lsnValue(lsn));
}

/** The text form of an LSN value. */
export function formatLsn(value: bigint): string {
  return `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xffffffffn).toString(16).toUpperCase()}`;
}
