using QuayAdmission.CredentialProvider;

// The kubelet execs this per image pull that misses its cache: one request on stdin, one response on
// stdout, or a non-zero exit with one line on stderr so the kubelet falls back to its other credentials.
return await Provider.RunAsync(args, Console.OpenStandardInput(), Console.OpenStandardOutput(), Console.Error);
