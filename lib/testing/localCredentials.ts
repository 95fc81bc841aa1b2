/** What the local SQS stand-ins take: they check no signature, but the AWS SDK refuses to sign without any. */
export const localCredentials = { accessKeyId: "local", secretAccessKey: "local" };
