/** The Corefile Kubespray v2.9 deploys (roles/kubernetes-apps/ansible/templates/coredns-config.yml.j2) with dns_domain cluster.local. */
export const KUBESPRAY_COREFILE = `.:53 {
    errors
    health
    kubernetes cluster.local in-addr.arpa ip6.arpa {
      pods insecure
      upstream /etc/resolv.conf
      fallthrough in-addr.arpa ip6.arpa
    }
    prometheus :9153
    proxy . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
}
`;
