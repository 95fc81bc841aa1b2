import { apiParams } from "../../lib/http/apiParams.ts";
import { httpHandler, json } from "../../lib/http/httpHandler.ts";
import { parsePathParams } from "../../lib/http/routeParams.ts";
import { createSubscription } from "../../lib/subscriptions/createSubscription.ts";
import { assertSubscriptionName, parseSubscriptionDefinition } from "../../lib/subscriptions/definition.ts";
import { readSubscriptionStatus } from "../../lib/subscriptions/readSubscriptionStatus.ts";
import { readJsonBody } from "../../lib/subscriptions/requestBody.ts";
import { requireSubscriptionAdmin } from "../../lib/subscriptions/requireSubscriptionAdmin.ts";
import { getRuntime } from "../shared/runtime.ts";

/** PUT /subscriptions/{name}: 201 created, 200 identical, 409 different. */
export const handler = httpHandler(getRuntime, async (request, { sql, sqs, config }) => {
  requireSubscriptionAdmin(request.principal);
  const name = assertSubscriptionName(
    parsePathParams(request, apiParams["PUT /subscriptions/{name}"]).name,
    config.EVENTBUS_QUEUE_PREFIX,
  );
  const definition = parseSubscriptionDefinition(readJsonBody(request));
  const { subscription, created } = await createSubscription(sql, sqs, {
    name,
    definition,
    queuePrefix: config.EVENTBUS_QUEUE_PREFIX,
  });
  const [status] = await readSubscriptionStatus(sql, sqs, [subscription]);
  return json(created ? 201 : 200, status);
});
