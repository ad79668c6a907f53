/**
 * @medusa/domain: the pure model of MeDUSA Link and its use cases. Schemas
 * for every shape that crosses a boundary, the assignment event log (decide /
 * evolve), projections, attribution by event time, topics, the ports, and
 * the use cases as Effect programs over the ports. No I/O, no clock, no
 * randomness: times and ids arrive as arguments or through a port.
 */

export {
  type AxisStats,
  type BlockMetrics,
  type BlockStats,
  blockMetrics,
  blockStartOf,
  type EpochMetrics,
  MetricsScratch,
  metricsOf,
  QUARTER_MG_PER_G,
} from "./activity/block.js";
export { BLOCK_CODEC_VERSION, decodeBlock, encodeBlock } from "./activity/block-codec.js";
export { columnsOf, columnsWithin, type SampleColumns } from "./activity/columns.js";
export { decodeActivityCursor, encodeActivityCursor } from "./activity/cursor.js";
export {
  type DaySummary,
  dailySummaries,
  LocalDate,
  type LocalDay,
  localDays,
  MAX_DAYS,
  UnknownTimeZone,
} from "./activity/daily.js";
export {
  type ActivityEpoch,
  activityEpoch,
  enmoMgOf,
  INTENSITY_CLASSES,
  IntensityClass,
  intensityOf,
} from "./activity/epochs.js";
export {
  NONWEAR_MIN_MINUTES,
  NONWEAR_RANGE_LIMIT_MG,
  NONWEAR_SD_LIMIT_MG,
  nonWearBlocks,
  nonWearFromSamples,
} from "./activity/nonwear.js";
export {
  type ActivityBlock,
  type ActivityBlockKey,
  type ActivityOptions,
  type ActivityPlan,
  activityBlocksOf,
  activityPlan,
  blocksAffected,
  changeOf,
  type SampleChange,
  sameMetrics,
} from "./activity/refresh.js";
export {
  ACTIVITY_ALGORITHMS,
  BLOCK_MS,
  CONTEXT_MS,
  CUT_POINT_SETS,
  type CutPointSet,
  CutPointSetName,
  CutPoints,
  DEFAULT_CUT_POINT_SET,
  DEFAULT_EPOCH_MS,
  EPOCH_LENGTHS_MS,
  EpochLength,
  epochLength,
  HIP_CUT_POINTS,
  NOMINAL_INTERVAL_MS,
  WRIST_CUT_POINTS,
} from "./activity/settings.js";
export { detectSteps, StepScratch } from "./activity/steps.js";
// Activity metrics for studies (ENMO, MAD, coverage, non-wear, intensity, steps) and their use cases.
export {
  type ActivityPage,
  type ActivityQuery,
  type ActivityRefreshReport,
  type DailyQuery,
  type KeepingActivityOptions,
  keepingActivity,
  patientActivity,
  patientActivityDaily,
  refreshActivity,
} from "./application/activity.js";
// Device management: the settings the cloud may change through the shadow, and the shadows port.
export {
  changeConfiguration,
  type DesiredWrite,
  type DeviceConfiguration,
  DeviceShadowNotFound,
  deviceConfiguration,
  endLiveMode,
  startLiveMode,
} from "./application/device-configuration.js";
// Device management: one-off jobs for a device (AWS IoT Jobs).
export { createDeviceJob, deviceJobs } from "./application/device-jobs.js";
// The use cases: one place for every flow.
export {
  type CommandFailure,
  type CommandOutcome,
  type CommandRequest,
  type ExecuteOptions,
  executeCommand,
  executeRequest,
  type Idempotency,
} from "./application/execute-command.js";
export {
  acknowledgeAlert,
  assignmentCommitChange,
  type DeviceStatusChanges,
  detectDataGaps,
  type FleetDevice,
  type FleetDeviceDetail,
  FleetFilter,
  type FleetPage,
  fleetDevice,
  fleetDevices,
  type GapDetectorReport,
  type GapDetectorSettings,
  openAlerts,
  type PresenceChange,
  type PresenceOutcome,
  presenceChange,
  recordAssignmentCommit,
  recordPresence,
  recordReportedState,
  recordSampleTimes,
  reportedStateChange,
  type SampleTimeChange,
  type SampleTimesMemory,
  type StatusChange,
  sampleTimeChanges,
  saveStatusChanges,
  saveStatusChangesOfDevices,
} from "./application/fleet.js";
export { type DeviceImport, importHistory } from "./application/import-history.js";
export {
  DEFAULT_READINGS_PER_ITEM,
  importReadings,
  planReadings,
  type ReadingsImport,
  type ReadingsPlan,
} from "./application/import-readings.js";
export {
  type IngestFailure,
  type IngestOutcome,
  type IngestSettings,
  ingestMessages,
} from "./application/ingest.js";
export { checkPreProvisioning } from "./application/pre-provisioning.js";
export {
  currentPatient,
  deviceAssignments,
  deviceRecordAsOf,
  patientDevices,
  patientTimeline,
} from "./application/queries.js";
export {
  type ReattributeOptions,
  type ReattributionFailure,
  type ReattributionReport,
  reattribute,
  reattributeAndSettle,
} from "./application/reattribute.js";
// The assignment event log.
export {
  type Assigned,
  AssignmentEnded,
  AssignmentEvent,
  type AssignmentHistory,
  type AssignmentState,
  CurrentAssignment,
  DeviceAssigned,
  EndReason,
  evolve,
  initialState,
  type LiveAssignments,
  type RetractedAssignments,
  replay,
  type Unassigned,
} from "./assignment.js";
// Samples and who they belong to.
export {
  attribute,
  type DeviceIntervals,
  lastKeyBefore,
  SegmentKey,
  type StoredSegment,
  segmentKey,
} from "./attribution.js";
export {
  AssignDevice,
  AssignmentCommand,
  EndAssignment,
  isCorrection,
  OrdinaryCommand,
  ReassignDevice,
  ReturnDevice,
} from "./commands.js";
// Corrections of the record.
export {
  AmendAssignmentPeriod,
  CorrectAssignmentPatient,
  CorrectionCommand,
  RetractAssignment,
} from "./correction-commands.js";
export {
  AssignmentAlreadyRetracted,
  AssignmentNotEnded,
  AssignmentNotFound,
  AssignmentsWouldOverlap,
  CorrectionChangesNothing,
  NamedAssignment,
} from "./correction-errors.js";
export {
  AssignmentPatientCorrected,
  AssignmentPeriodAmended,
  AssignmentRetracted,
  AssignmentSnapshot,
  CorrectionEvent,
  CorrectionNote,
  CorrectionReason,
  CorrectionStamp,
  stampOf,
} from "./corrections.js";
export { type Decision, type DecisionPolicy, decide, defaultPolicy } from "./decide.js";
export { snapshotOf } from "./decide-corrections.js";
export {
  ConfigurationChange,
  changeSettings,
  type DeviceSettings,
  effectivePublishIntervalMs,
  LiveIntervalMs,
  type LiveMode,
  MAX_LIVE_DURATION_MS,
  MAX_REFUSALS,
  MAX_STATUS_INTERVAL_MS,
  MIN_STATUS_INTERVAL_MS,
  PublishIntervalMs,
  readDesiredSettings,
  SETTING_KEYS,
  SETTING_SCHEMAS,
  type SettingKey,
  SettingRefusal,
  StatusIntervalMs,
  settingsState,
} from "./device-settings.js";
export {
  DAY_MS,
  DEFAULT_RETENTION_MS,
  type EnrichOptions,
  enrich,
  type Segment,
  UNASSIGNED,
  type UnassignedPatient,
} from "./enrichment.js";
export {
  AssignmentBelongsToAnotherPatient,
  type AssignmentRejection,
  DeviceAlreadyAssigned,
  EmptyAssignmentInterval,
  EmptyTimeRange,
  EventTimeBeforeLastEvent,
  EventTimeInFuture,
  NoActiveAssignment,
  VersionConflict,
} from "./errors.js";
// The fleet: presence, device status, data-gap alerts.
export {
  Alert,
  AlertId,
  acknowledgeAlert as acknowledgedAlert,
  alertIdOf,
  alertOf,
  checkDataGap,
  closeAlert,
  DataGapClosed,
  DataGapEvent,
  DataGapOpened,
  DEFAULT_GAP_MS,
  type GapCheck,
  GapCloseReason,
  gapDueAt,
  isOpen as isOpenAlert,
  silentSince,
} from "./fleet/data-gap.js";
export {
  applyAssignmentCommit,
  applyPresence,
  applySampleTime,
  comparePresence,
  FleetDeviceStatus,
  initialDeviceStatus,
  isConnected,
  lastSeenAt,
  PRESENCE_VERSION_WINDOW_MS,
  ReportedSummary,
  reportedSummary,
  SAMPLE_TIME_STEP_MS,
} from "./fleet/device-status.js";
export {
  DeviceConnected,
  DeviceDisconnected,
  DisconnectReason,
  DOCUMENTED_DISCONNECT_REASONS,
  decodePresenceMessage,
  hasLifecycleEvents,
  PRESENCE_TOPIC_FILTER,
  PRESENCE_TOPIC_PREFIX,
  PresenceEvent,
  PresenceEventType,
  type PresenceMessage,
  presenceMessageFromRuleEvent,
  presenceTopic,
} from "./fleet/presence.js";
export {
  Actor,
  actor,
  CommandId,
  commandId,
  DeviceId,
  deviceId,
  EpochMillis,
  epochMillis,
  Notes,
  PatientId,
  PatientName,
  patientId,
} from "./ids.js";
// Importing the historical mapping table.
export {
  CorrectionsFile,
  type DevicePlan,
  type HistoricalRow,
  type ImportPlan,
  type ImportStep,
  MAX_EPOCH_SECONDS,
  type PlanOptions,
  planImport,
  RESOLUTIONS,
  type RefusedRow,
  type Resolutions,
  RowCorrection,
  type RowProblem,
  type RowProblemKind,
  rowKey,
} from "./import/plan.js";
export { ImportProvenance } from "./import/provenance.js";
export {
  beyondLimits,
  DEFAULT_MAX_LEAD_MS,
  DEFAULT_MAX_SEGMENTS,
  DEFAULT_MAX_SPAN_MS,
  type IngestLimits,
  ingestLimits,
  tooManySegments,
} from "./ingest-limits.js";
export { ActivityStore, type ActivityStoreService } from "./ports/activity-store.js";
export {
  AlertNotDelivered,
  AlertNotFound,
  AlertNotifier,
  type AlertNotifierService,
  type AlertPage,
  Alerts,
  type AlertsService,
} from "./ports/alerts.js";
// The ports.
export { AllowList, type AllowListService } from "./ports/allow-list.js";
export { Clock } from "./ports/clock.js";
export { type DeadLetter, DeadLetters, type DeadLettersService } from "./ports/dead-letters.js";
export {
  DEVICE_JOB_RETRY,
  DEVICE_JOB_STATUSES,
  DEVICE_JOB_TYPES,
  type DeviceJob,
  DeviceJobRejected,
  type DeviceJobRequest,
  type DeviceJobRetry,
  type DeviceJobStatus,
  DeviceJobs,
  type DeviceJobsService,
  DeviceJobsUnavailable,
  type DeviceJobType,
  DeviceNotRegistered,
  deviceJobId,
  deviceJobTypeOf,
} from "./ports/device-jobs.js";
export {
  type DeviceShadow,
  DeviceShadowRejected,
  DeviceShadows,
  type DeviceShadowsService,
  DeviceShadowUnavailable,
} from "./ports/device-shadows.js";
export {
  DeviceStatuses,
  type DeviceStatusesService,
  type DeviceStatusPage,
  type StoredDeviceStatus,
  type StoredDeviceStatusPage,
} from "./ports/device-statuses.js";
export {
  Commit,
  type DeviceStream,
  EventStore,
  type EventStoreService,
  EventStoreUnavailable,
  eventsOf,
} from "./ports/event-store.js";
export {
  IDEMPOTENCY_KEY_TTL_MS,
  IdempotencyKeyReused,
  IdempotencyKeys,
  type IdempotencyKeysService,
} from "./ports/idempotency.js";
export { AssignmentIntervals, type AssignmentIntervalsService } from "./ports/intervals.js";
export { AssignmentReadModel, type AssignmentReadModelService } from "./ports/read-model.js";
export {
  type DeviceSample,
  InvalidCursor,
  SegmentsNotWritten,
  type SegmentWrite,
  SensorStore,
  type SensorStoreService,
  samplesWithin,
  type TimelinePage,
  type TimelineSample,
} from "./ports/sensor-store.js";
export { StorageUnavailable, type TimeRange } from "./ports/storage.js";
export {
  ThingCertificates,
  type ThingCertificatesService,
  ThingCertificatesUnavailable,
} from "./ports/thing-certificates.js";
export {
  AssignmentInterval,
  type AssignmentStatus,
  auditTrail,
  byStartThenDevice,
  currentAssignment,
  intervalStartedBy,
  intervalsOf,
  liveIntervals,
  patientActiveDevices,
  patientDeviceHistory,
  statusOf,
} from "./projections.js";
// Fleet provisioning by claim: the MQTT API, the template, the allow-list.
export {
  AllowListEntry,
  BatchName,
  CertificateId,
  decidePreProvisioning,
  hookResponse,
  type PreProvisioningDecision,
  PreProvisioningRequest,
  type PreProvisioningResponse,
  SerialNumber,
} from "./provisioning/allow-list.js";
export {
  CreateCertificateFromCsrRequest,
  CreateCertificateFromCsrResponse,
  OWNERSHIP_TOKEN_TTL_MS,
  PROVISIONING_ERRORS,
  ProvisioningError,
  ProvisioningParameters,
  provisioningError,
  RegisterThingRequest,
  RegisterThingResponse,
  type RejectionOutcome,
  rejectionOutcome,
} from "./provisioning/messages.js";
// Certificate rotation's cloud half: the old certificate retired once the job SUCCEEDED.
export {
  isRotationJob,
  JobExecutionEvent,
  type RetirementOutcome,
  retireReplacedCertificates,
  thingOfArn,
} from "./provisioning/retirement.js";
// Certificate rotation as a job: the rotation template, its hook, the device's rights.
export {
  type AttachedCertificate,
  certificateRotationTemplate,
  certificatesToRetire,
  decideRotation,
  isRotationTemplate,
  ROTATION_DETAILS,
  ROTATION_TEMPLATE_SUFFIX,
  type RotationDecision,
  rotationPublishTopics,
  rotationSubscribeFilters,
  rotationTemplateName,
  rotationTopics,
  THING_NAME_PARAMETER,
} from "./provisioning/rotation.js";
export {
  applyProvisioningTemplate,
  CERTIFICATE_ID_PARAMETER,
  DEFAULT_THING_NAME_PREFIX,
  type FleetTemplateOptions,
  fleetProvisioningTemplate,
  SERIAL_NUMBER_ATTRIBUTE,
  SERIAL_NUMBER_PARAMETER,
  serialNumberOf,
  type TemplateOutcome,
} from "./provisioning/template.js";
export {
  CLAIM_CLIENT_ID_PREFIX,
  CREATE_CERTIFICATE_FROM_CSR,
  claimPublishTopics,
  claimSubscribeFilters,
  isClaimClientId,
  mayClaimConnect,
  mayClaimPublish,
  mayClaimSubscribe,
  type RequestTopics,
  registerThingTopics,
  TemplateName,
  templateOfRegisterThing,
} from "./provisioning/topics.js";
export {
  changedFrom,
  effectiveFrom,
  type ReattributionOptions,
  type ReattributionPlan,
  reattributionPlan,
} from "./reattribution.js";
export {
  type AssignmentRecord,
  commitsAsOf,
  correctedRow,
  deviceRecord,
  intervalsAsOf,
  mappingRowsOf,
  type RecordedCorrection,
  recordedTime,
} from "./record.js";
export { ReportedDeviceState } from "./reported-state.js";
export {
  EARLIEST_SAMPLE_TIME,
  LATEST_SAMPLE_TIME,
  magnitudeOf,
  Sample,
  SampleTime,
} from "./sample.js";
export {
  decodeSamples,
  encodeSamples,
  SAMPLE_CODEC_VERSION,
} from "./sample-codec.js";
// What crosses the wire.
export {
  CommandResponse,
  DeviceCommand,
  MAX_PUBLISH_INTERVAL_MS,
  MIN_PUBLISH_INTERVAL_MS,
  parseDeviceCommand,
  SampleRateHz,
} from "./telemetry/device-commands.js";
export { DeviceInfo, DeviceStatus } from "./telemetry/device-messages.js";
export {
  decodeGuarded,
  InvalidPayload,
  invalid,
  MAX_JSON_DEPTH,
  nestedDeeperThan,
  parseJson,
  type RawPayload,
  rawPayload,
} from "./telemetry/json.js";
export {
  decodeSensorMessage,
  type InboundMessage,
  messageFromRuleEvent,
  receivedAtOr,
  type SensorMessage,
} from "./telemetry/sensor-message.js";
export {
  decodeSensorPayload,
  encodeSampleBatch,
  MAX_BATCH_SAMPLES,
  MAX_MESSAGE_BYTES,
  parseSensorPayload,
  SampleBatch,
  type SensorPayload,
  SingleReading,
  samplesOf,
  WireTime,
} from "./telemetry/sensor-payload.js";
export {
  devicePublishTopics,
  deviceSubscribeFilters,
  jobsPublishTopics,
  jobsReceiveTopics,
  jobsSubscribeFilters,
  mayPublish,
  maySubscribe,
  policyResourceMatches,
  shadowResponseTopics,
  type Verdict,
} from "./topic-rights.js";
export {
  BASIC_INGEST_PREFIX,
  basicIngestTopic,
  DEFAULT_TOPIC_PREFIX,
  DEVICE_ID_PLACEHOLDER,
  type DeviceTopics,
  deviceTopics,
  filterFor,
  InvalidRuleName,
  InvalidTopicTemplate,
  parseBasicIngestTopic,
  parseDeviceId,
  RuleName,
  topicFor,
  topicMatches,
  topicTemplates,
  validateTemplate,
} from "./topics.js";
