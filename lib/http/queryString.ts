import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { validationFailed } from "../errors.ts";
import { printable } from "../text/storableText.ts";

function decode(component: string, name: string | undefined): string {
  try {
    return decodeURIComponent(component.replaceAll("+", " "));
  } catch {
    const parameter = name === undefined ? printable(component) : name;
    throw validationFailed(`Query parameter '${parameter}' is not valid percent-encoding.`, { parameter });
  }
}

/**
 * Every query parameter with all its values, in order.
 *
 * Read from `rawQueryString`: API Gateway's payload v2 joins repeated parameters with commas in
 * `queryStringParameters` (`?type=A&type=B` becomes `"A,B"`), which cannot be told apart from one value
 * that contains a comma. `queryStringParameters` is used only when there is no raw query string.
 *
 * @throws {EventBusError} `VALIDATION_FAILED` naming a parameter that is not valid percent-encoding.
 */
export function parseQueryString(
  event: Partial<Pick<APIGatewayProxyEventV2, "rawQueryString" | "queryStringParameters">>,
): Map<string, string[]> {
  const params = new Map<string, string[]>();
  const add = (name: string, value: string) => {
    const values = params.get(name);
    if (values) values.push(value);
    else params.set(name, [value]);
  };
  if (event.rawQueryString === undefined) {
    for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
      if (value !== undefined) add(name, value);
    }
    return params;
  }
  for (const pair of event.rawQueryString.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const name = decode(eq === -1 ? pair : pair.slice(0, eq), undefined);
    add(name, eq === -1 ? "" : decode(pair.slice(eq + 1), name));
  }
  return params;
}
