process EPI_SIMULATE {
    tag "${meta.id}"
    label 'process_low'
    container "${params.container_cpu}"

    input:
    val(meta)

    output:
    tuple val(meta), path("${prefix}")                                   , emit: dir
    tuple val(meta), path("${prefix}/pairs.tsv")                         , emit: pairs
    tuple val(meta), path("${prefix}/genome.fa"), path("${prefix}/genome.fa.fai"), emit: genome
    tuple val(meta), path("${prefix}/genes.tsv")                         , emit: genes
    tuple val(meta), path("${prefix}/elements.bed")                      , emit: elements
    tuple val(meta), path("${prefix}/hic.cool")                          , emit: hic
    tuple val(meta), path("${prefix}/dnase.bw")                          , emit: dnase
    tuple val(meta), path("${prefix}/h3k27ac.bw")                        , emit: h3k27ac
    tuple val(meta), path("${prefix}/truth.json")                        , emit: truth
    tuple val(meta), path("${prefix}/peaks.narrowPeak")                  , emit: peaks
    tuple val(meta), path("${prefix}/genes.gtf")                         , emit: annotation
    tuple val(meta), path("${prefix}/dnase.bam"), path("${prefix}/dnase.bam.bai"), emit: dnase_bam
    tuple val(meta), path("${prefix}/hic.hic")                           , emit: hic_juicer
    path "versions.yml"                                                  , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    epi-simulate \\
        --out ${prefix} \\
        --seed ${params.seed} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}
    touch ${prefix}/pairs.tsv ${prefix}/genome.fa ${prefix}/genome.fa.fai ${prefix}/genes.tsv
    touch ${prefix}/elements.bed ${prefix}/hic.cool ${prefix}/dnase.bw ${prefix}/h3k27ac.bw
    touch ${prefix}/peaks.narrowPeak ${prefix}/genes.gtf ${prefix}/dnase.bam ${prefix}/dnase.bam.bai ${prefix}/hic.hic
    echo '{}' > ${prefix}/truth.json

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """
}
