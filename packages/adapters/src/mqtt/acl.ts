/**
 * What the AWS IoT policy lets a device do, as pure rules (the local broker
 * enforces them; the CDK app writes the same rules as an IoT policy): a
 * device is its certificate's thing name and touches only its own topics.
 */
export const devicePublishTopics = (prefix: string, thing: string): ReadonlyArray<string> => [
  `${prefix}/${thing}/sensor/data`,
  `${prefix}/${thing}/status`,
  `${prefix}/${thing}/device/info`,
  `${prefix}/${thing}/commands/response`,
  `$aws/things/${thing}/shadow/update`,
  `$aws/things/${thing}/shadow/get`,
];

export type Verdict =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: string };

const allow: Verdict = { allowed: true };

export const mayPublish = (prefix: string, thing: string, topic: string): Verdict =>
  devicePublishTopics(prefix, thing).includes(topic)
    ? allow
    : { allowed: false, reason: `${thing} may publish only to its own topics, not ${topic}` };

/** Its own commands (`{prefix}/{thing}/commands/#` or below) and its own shadow responses. */
export const maySubscribe = (prefix: string, thing: string, filter: string): Verdict => {
  const commands = `${prefix}/${thing}/commands`;
  const shadow = `$aws/things/${thing}/shadow/`;
  const wildcardOnlyAtEnd = (rest: string) =>
    !rest.includes("+") &&
    (!rest.includes("#") || (rest.endsWith("#") && rest.indexOf("#") === rest.length - 1));
  if (
    (filter === commands || filter.startsWith(`${commands}/`)) &&
    wildcardOnlyAtEnd(filter.slice(commands.length))
  )
    return allow;
  if (filter.startsWith(shadow) && wildcardOnlyAtEnd(filter.slice(shadow.length))) return allow;
  return {
    allowed: false,
    reason: `${thing} may subscribe only to its own commands and shadow, not ${filter}`,
  };
};
