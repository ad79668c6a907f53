import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import { AlertNotDelivered, type AlertNotifierService, type DataGapEvent } from "@medusa/domain";
import { Effect } from "effect";

/** The message an alert's subscribers get: a line for people, and the event as JSON for tools. */
export const alertMessage = (event: DataGapEvent) => ({
  Subject:
    event._tag === "DataGapOpened"
      ? `MeDUSA: no data from ${event.deviceId}`.slice(0, 99)
      : `MeDUSA: data again from ${event.deviceId}`.slice(0, 99),
  Message: JSON.stringify({
    event: event._tag,
    alert_id: event.alertId,
    device_id: event.deviceId,
    patient_id: event.patientId,
    since: event.since,
    raised_at: event.raisedAt,
    ...(event._tag === "DataGapClosed" ? { closed_at: event.closedAt, reason: event.reason } : {}),
  }),
  MessageAttributes: {
    event: { DataType: "String", StringValue: event._tag },
    device_id: { DataType: "String", StringValue: event.deviceId },
  },
});

/** Announces gaps on an SNS topic (in AWS; the local stack logs them). */
export const makeSnsAlertNotifier = (options: {
  readonly client: SNSClient;
  readonly topicArn: string;
}): AlertNotifierService => ({
  notify: (event) =>
    Effect.tryPromise({
      try: () =>
        options.client.send(
          new PublishCommand({ TopicArn: options.topicArn, ...alertMessage(event) }),
        ),
      catch: (e) =>
        new AlertNotDelivered({
          alertId: event.alertId,
          reason: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
        }),
    }).pipe(Effect.asVoid),
});
