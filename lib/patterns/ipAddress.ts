/**
 * IP addresses as EventBridge compares them (AWS's event-ruler): a string is an address only if it looks
 * like one, dotted IPv4 (`10.0.0.1`, each part a decimal 0-255, leading zeros allowed) or IPv6 made of hex
 * digits and colons (`2001:db8::1`, no zone, no embedded IPv4). Anything else is plain text.
 */

const IPV4_SHAPE = /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/;
const IPV6_SHAPE = /^[0-9a-fA-F:]*:[0-9a-fA-F:]*$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIpv4(text: string): Uint8Array | undefined {
  if (!IPV4_SHAPE.test(text)) return undefined;
  const parts = text.split(".").map((p) => Number.parseInt(p, 10));
  if (parts.some((n) => n > 255)) return undefined;
  return Uint8Array.from(parts);
}

function parseIpv6(text: string): Uint8Array | undefined {
  if (!IPV6_SHAPE.test(text)) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string) => (half === "" ? [] : half.split(":"));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (![...head, ...tail].every((g) => HEX_GROUP.test(g))) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...Array<string>(missing).fill("0"), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    const n = Number.parseInt(g, 16);
    bytes[2 * i] = n >> 8;
    bytes[2 * i + 1] = n & 0xff;
  });
  // An IPv4-mapped address (::ffff:a.b.c.d written in hex) is the IPv4 address, as Java reads it.
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return bytes.slice(12);
  }
  return bytes;
}

/** The address's bytes (4 or 16), or `undefined` when the text is not an IP address literal. */
export function parseIpAddress(text: string): Uint8Array | undefined {
  return parseIpv4(text) ?? parseIpv6(text);
}

/** Whether two address literals name the same address (same family, same bytes). */
export function sameIpAddress(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

export interface CidrBlock {
  network: Uint8Array;
  bits: number;
}

/**
 * Parses `address/bits` as event-ruler does; mask bits run 0-31 for IPv4 and 0-127 for IPv6 (a single
 * address is matched with its exact value instead). Returns the rule broken, phrased to follow "cidr".
 */
export function parseCidr(text: string): CidrBlock | string {
  const parts = text.split("/");
  if (parts.length !== 2 || parts[1] === "") {
    return "must be an address and a mask length such as 10.0.0.0/24 or 2001:db8::/32";
  }
  const network = parseIpAddress(parts[0]!);
  if (!network) return `must start with an IPv4 or IPv6 address ('${parts[0]}' is not one)`;
  if (!/^\+?[0-9]+$/.test(parts[1]!)) return "must end with a whole number of mask bits";
  const bits = Number.parseInt(parts[1]!, 10);
  const max = network.length === 4 ? 31 : 127;
  if (bits > max) {
    return `mask bits must be at most ${max} for ${network.length === 4 ? "IPv4" : "IPv6"} (match a single address with its exact value)`;
  }
  return { network, bits };
}

/** Whether an address lies in the block; an IPv4 address is never in an IPv6 block, nor the reverse. */
export function inCidr(block: CidrBlock, address: Uint8Array): boolean {
  if (address.length !== block.network.length) return false;
  const whole = block.bits >> 3;
  for (let i = 0; i < whole; i++) if (address[i] !== block.network[i]) return false;
  const rest = block.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (address[whole]! & mask) === (block.network[whole]! & mask);
}
