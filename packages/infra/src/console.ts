import { Aws, CfnOutput, Duration, Fn, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as cloudfront from "aws-cdk-lib/aws-cloudfront";
import * as origins from "aws-cdk-lib/aws-cloudfront-origins";
import * as cognito from "aws-cdk-lib/aws-cognito";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as s3assets from "aws-cdk-lib/aws-s3-assets";
import * as s3deploy from "aws-cdk-lib/aws-s3-deployment";
import { Construct } from "constructs";

/** The Cognito groups the API maps to its roles (`cognito:groups` → `clinician`, `viewer`). */
export const CONSOLE_GROUPS = ["clinician", "viewer"] as const;
/** The console's pages the app client names: the provider's answer, and where sign-out lands. */
export const CALLBACK_PATH = "/sign-in/callback";
export const SIGNED_OUT_PATH = "/sign-in";
/** Paths CloudFront sends to the HTTP API (same origin as the console: no CORS). */
export const API_PATHS = ["/api/*", "/fhir/*"] as const;

export interface MedusaConsoleProps {
  readonly stage: string;
  readonly production: boolean;
  /** The built console (`packages/console/dist`: the production build, no development sign-in). */
  readonly consoleDir: string;
  /** The HTTP API's endpoint (`https://<id>.execute-api.<region>.amazonaws.com`). */
  readonly apiEndpoint: string;
  /** The hosted UI's domain prefix (`<prefix>.auth.<region>.amazoncognito.com`); unique in the region. */
  readonly domainPrefix: string;
  /** The clinic's IANA time zone, for `/console-config.json`. */
  readonly clinicTimeZone: string;
  readonly logRetention: logs.RetentionDays;
}

/**
 * The clinicians' console in AWS: the Cognito user pool (groups `clinician`
 * and `viewer`, no self sign-up), its hosted UI and a public app client
 * (authorization code with PKCE, no secret), and the console's files in a
 * private S3 bucket behind CloudFront (Origin Access Control), with `/api/*`
 * and `/fhir/*` going to the HTTP API on the same origin.
 * `/console-config.json` is written at deployment with the pool's settings.
 */
// A Bucket is an IBucket; `exactOptionalPropertyTypes` disagrees over `isWebsite?: boolean`.
const asIBucket = (bucket: s3.Bucket): s3.IBucket => bucket as unknown as s3.IBucket;

export class MedusaConsole extends Construct {
  readonly userPool: cognito.UserPool;
  readonly client: cognito.UserPoolClient;
  readonly domain: cognito.UserPoolDomain;
  readonly distribution: cloudfront.Distribution;
  readonly bucket: s3.Bucket;
  /** `https://<distribution>.cloudfront.net` */
  readonly url: string;
  /** The ID tokens' issuer (the API's `MEDUSA_JWT_ISSUER`). */
  readonly issuer: string;
  readonly jwksUrl: string;

  constructor(scope: Construct, id: string, props: MedusaConsoleProps) {
    super(scope, id);
    const { stage, production } = props;
    const removalPolicy = production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    // ── Who may sign in: staff the operator creates (no self sign-up), by e-mail.
    this.userPool = new cognito.UserPool(this, "UserPool", {
      userPoolName: `medusa-${stage}-clinicians`,
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      autoVerify: { email: true },
      passwordPolicy: {
        minLength: 12,
        requireDigits: true,
        requireLowercase: true,
        requireUppercase: true,
        requireSymbols: false,
      },
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      deletionProtection: production,
      removalPolicy,
    });
    for (const group of CONSOLE_GROUPS)
      new cognito.UserPoolGroup(this, `${group[0]?.toUpperCase()}${group.slice(1)}Group`, {
        userPool: this.userPool,
        groupName: group,
        description:
          group === "clinician"
            ? "May assign, end, hand over and return devices (the API's clinician role)"
            : "May read only (the API's viewer role)",
      });
    this.domain = this.userPool.addDomain("HostedUi", {
      cognitoDomain: { domainPrefix: props.domainPrefix },
    });
    this.issuer = this.userPool.userPoolProviderUrl;
    this.jwksUrl = `${this.issuer}/.well-known/jwks.json`;
    const cognitoOrigins = [
      `https://cognito-idp.${Aws.REGION}.amazonaws.com`,
      `https://${props.domainPrefix}.auth.${Aws.REGION}.amazoncognito.com`,
    ];

    // ── The console's files: private, only CloudFront reads them (Origin Access Control).
    this.bucket = new s3.Bucket(this, "Files", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // Not emptied by a custom resource (its provider role has a managed policy): the
      // deployment's objects stay with a retained bucket; delete it by hand after the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // The console's pages are client-side routes: any path without a file extension is index.html.
    const pages = new cloudfront.Function(this, "Pages", {
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      comment: "MeDUSA Link console: its pages are index.html",
      code: cloudfront.FunctionCode.fromInline(
        "function handler(event) { var r = event.request; if (!/\\.[a-zA-Z0-9]+$/.test(r.uri)) r.uri = '/index.html'; return r; }",
      ),
    });
    const apiOrigin = new origins.HttpOrigin(Fn.select(2, Fn.split("/", props.apiEndpoint)), {
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
      originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
    });
    const securityHeaders = (csp: string | undefined) => ({
      strictTransportSecurity: {
        accessControlMaxAge: Duration.days(365),
        includeSubdomains: true,
        override: true,
      },
      contentTypeOptions: { override: true },
      frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
      referrerPolicy: {
        referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER,
        override: true,
      },
      ...(csp ? { contentSecurityPolicy: { contentSecurityPolicy: csp, override: true } } : {}),
    });
    // The console talks to its own origin (the API is there too) and to Cognito only.
    const csp = [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self' 'unsafe-inline'",
      "img-src 'self' data:",
      `connect-src 'self' ${cognitoOrigins.join(" ")}`,
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "form-action 'self'",
      "object-src 'none'",
    ].join("; ");
    const consoleHeaders = new cloudfront.ResponseHeadersPolicy(this, "ConsoleHeaders", {
      responseHeadersPolicyName: `medusa-${stage}-console`,
      comment: "MeDUSA Link console: HSTS, CSP (own origin and Cognito only), no framing",
      securityHeadersBehavior: securityHeaders(csp),
    });
    const apiHeaders = new cloudfront.ResponseHeadersPolicy(this, "ApiHeaders", {
      responseHeadersPolicyName: `medusa-${stage}-console-api`,
      comment: "MeDUSA Link API through the console's origin: HSTS, no framing",
      securityHeadersBehavior: securityHeaders("default-src 'none'; frame-ancestors 'none'"),
    });
    const toApi: cloudfront.BehaviorOptions = {
      origin: apiOrigin,
      // Bearer tokens never travel over plain HTTP: no redirect, a refusal.
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      // Every header (Authorization, Idempotency-Key) and the query string; API Gateway's own Host.
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      responseHeadersPolicy: apiHeaders,
    };
    this.distribution = new cloudfront.Distribution(this, "Distribution", {
      comment: `MeDUSA Link (${stage}): the clinicians' console and its API`,
      defaultRootObject: "index.html",
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(asIBucket(this.bucket)),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: consoleHeaders,
        functionAssociations: [
          { function: pages, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST },
        ],
      },
      additionalBehaviors: Object.fromEntries(API_PATHS.map((path) => [path, toApi])),
    });
    this.url = `https://${this.distribution.distributionDomainName}`;

    // ── The console's app client: public (no secret), authorization code (PKCE) only.
    this.client = this.userPool.addClient("Console", {
      userPoolClientName: `medusa-${stage}-console`,
      generateSecret: false,
      authFlows: { userSrp: true },
      oAuth: {
        flows: { authorizationCodeGrant: true, implicitCodeGrant: false },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
        callbackUrls: [`${this.url}${CALLBACK_PATH}`],
        logoutUrls: [`${this.url}${SIGNED_OUT_PATH}`],
      },
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      // The console keeps the ID token only: a session lasts its hour, then sign-in again
      // (without a password while the hosted UI's own session lasts).
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.hours(12),
    });

    // ── The files and `/console-config.json`, written at each deployment.
    const files = new s3assets.Asset(this, "ConsoleFiles", { path: props.consoleDir });
    const deployLogs = new logs.LogGroup(this, "DeploymentLogs", {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // An explicit role with only what the copy needs; the construct's own grants (s3:List*,
    // s3:DeleteObject*, cloudfront on `*`) would be broader, so it gets the role immutable.
    const deployRole = new iam.Role(this, "DeploymentRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `medusa-${stage}: copies the console's files into its bucket`,
    });
    const allow = (sid: string, actions: Array<string>, resources: Array<string>) =>
      deployRole.addToPolicy(new iam.PolicyStatement({ sid, actions, resources }));
    allow("OwnLogGroup", ["logs:CreateLogStream", "logs:PutLogEvents"], [deployLogs.logGroupArn]);
    // The staged files and the config document (CDK's asset bucket).
    allow("ReadStagedFiles", ["s3:GetObject"], [files.bucket.arnForObjects("*")]);
    allow("ListConsoleBucket", ["s3:ListBucket"], [this.bucket.bucketArn]);
    allow(
      "WriteConsoleFiles",
      ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
      [this.bucket.arnForObjects("*")],
    );
    allow(
      "InvalidateConsole",
      ["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"],
      [
        `arn:${Aws.PARTITION}:cloudfront::${Aws.ACCOUNT_ID}:distribution/${this.distribution.distributionId}`,
      ],
    );
    const logout = `${this.domain.baseUrl()}/logout`;
    const deployment = new s3deploy.BucketDeployment(this, "Deployment", {
      destinationBucket: asIBucket(this.bucket),
      sources: [
        s3deploy.Source.bucket(files.bucket, files.s3ObjectKey),
        s3deploy.Source.jsonData("console-config.json", {
          time_zone: props.clinicTimeZone,
          dev_sign_in: false,
          oidc: {
            issuer: this.issuer,
            client_id: this.client.userPoolClientId,
            redirect_uri: `${this.url}${CALLBACK_PATH}`,
            logout_endpoint: logout,
            logout_uri: `${this.url}${SIGNED_OUT_PATH}`,
          },
        }),
      ],
      // CloudFront asks again each time (index.html, the config); assets are content-hashed.
      cacheControl: [s3deploy.CacheControl.noCache()],
      distribution: this.distribution,
      distributionPaths: ["/index.html", "/console-config.json"],
      role: deployRole.withoutPolicyUpdates(),
      logGroup: deployLogs,
      memoryLimit: 256,
    });
    // The role's policy before the copy runs (an immutable role adds no such dependency itself).
    deployment.node.addDependency(deployRole);

    // Stack-level outputs: their names are the ones docs/deploy.md queries.
    const outputs = Stack.of(this);
    new CfnOutput(outputs, "ConsoleUrl", {
      value: this.url,
      description: "The clinicians' console (sign in with the user pool)",
    });
    new CfnOutput(outputs, "UserPoolId", {
      value: this.userPool.userPoolId,
      description: "The console's user pool: create users and add them to clinician or viewer",
    });
    new CfnOutput(outputs, "UserPoolClientId", {
      value: this.client.userPoolClientId,
      description: "The console's app client: the audience of the ID tokens the API takes",
    });
    new CfnOutput(outputs, "SignInDomain", {
      value: this.domain.baseUrl(),
      description: "Cognito's hosted sign-in pages",
    });
  }
}
